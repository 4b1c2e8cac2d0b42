import { PassThrough } from 'node:stream';
import { cudaFailReason, findCudaError, StderrTail } from '../src/driver/gpu-errors';
import { discoverGpus, GpuError, parseCudaVersion, parseListOutput, parseQueryCsv, runNvidiaSmi, type GpuInfo } from '../src/driver/gpu-smi';
import { decodeWorkersPerTrial, GpuPool, gpuTags, parseGpuList, planGpuSlots, trialGpuEnv } from '../src/driver/gpu-slots';
import { FAKE_CUDA, FAKE_DRIVER, fakeNvidiaSmi, H100, pathWith } from './fake-nvidia-smi';

const four: GpuInfo[] = [0, 1, 2, 3].map((index) => ({ index, name: 'NVIDIA H100 80GB HBM3', memoryMiB: 81559, driverVersion: '550.54.15' }));

describe('--gpus', () => {
  it('reads distinct indices in the order given', () => {
    expect(parseGpuList('0,1,3')).toEqual([0, 1, 3]);
    expect(parseGpuList(' 2 , 0')).toEqual([2, 0]);
  });

  it.each(['', '0,,1', '0,x', '-1', '1.5', 'all', '0;1'])('rejects %j with one line', (spec) => {
    expect(() => parseGpuList(spec)).toThrow(new GpuError(`--gpus: got "${spec}", expected GPU indices separated by commas, such as 0,1,3`));
  });

  it('rejects a GPU listed twice', () => {
    expect(() => parseGpuList('0,1,0')).toThrow('--gpus: got "0,1,0", GPU 0 is listed twice');
  });
});

describe('nvidia-smi output', () => {
  it('reads the query form, with units or without, and [N/A] as no fact', () => {
    expect(parseQueryCsv('0, NVIDIA H100 80GB HBM3, 81559, 550.54.15\n1, Tesla T4, 15360 MiB, [N/A]\n')).toEqual([
      { index: 0, name: 'NVIDIA H100 80GB HBM3', memoryMiB: 81559, driverVersion: '550.54.15' },
      { index: 1, name: 'Tesla T4', memoryMiB: 15360, driverVersion: undefined },
    ]);
    expect(() => parseQueryCsv('zero, x, 1, 2')).toThrow('cannot read the line "zero, x, 1, 2"');
  });

  it('reads -L, skipping MIG lines, and the CUDA version of the header', () => {
    const l = 'GPU 0: NVIDIA A100-SXM4-80GB (UUID: GPU-aaa)\n  MIG 1g.10gb Device 0: (UUID: MIG-bbb)\nGPU 1: NVIDIA A100-SXM4-80GB (UUID: GPU-ccc)\n';
    expect(parseListOutput(l)).toEqual([
      { index: 0, name: 'NVIDIA A100-SXM4-80GB' },
      { index: 1, name: 'NVIDIA A100-SXM4-80GB' },
    ]);
    expect(parseCudaVersion('| NVIDIA-SMI 550.54.15   Driver Version: 550.54.15   CUDA Version: 12.4     |')).toBe('12.4');
    expect(parseCudaVersion('no header')).toBeUndefined();
  });

  it('discovers the stand-in nvidia-smi on PATH, and nothing when there is none', () => {
    const old = process.env.PATH;
    try {
      process.env.PATH = pathWith(fakeNvidiaSmi(3));
      const gpus = discoverGpus();
      expect(gpus).toEqual([0, 1, 2].map((index) => ({ index, name: H100.name, memoryMiB: H100.memoryMiB, driverVersion: FAKE_DRIVER, cudaVersion: FAKE_CUDA })));
      process.env.PATH = '/nonexistent';
      expect(runNvidiaSmi(['-L'])).toBeNull();
      expect(discoverGpus()).toEqual([]);
    } finally {
      process.env.PATH = old;
    }
  });

  it('falls back to -L when the query form fails, and says what failed when both do', () => {
    const calls: string[][] = [];
    const run = (args: string[]) => {
      calls.push(args);
      if (args[0]?.startsWith('--query-gpu')) throw new GpuError('nvidia-smi --query-gpu failed: Invalid combination of input arguments');
      if (args[0] === '-L') return 'GPU 0: Tesla V100-SXM2-16GB (UUID: GPU-x)\n';
      return '';
    };
    expect(discoverGpus(run)).toEqual([{ index: 0, name: 'Tesla V100-SXM2-16GB' }]);
    const broken = (args: string[]) => {
      if (args.length) throw new GpuError("nvidia-smi -L failed: NVIDIA-SMI has failed because it couldn't communicate with the NVIDIA driver");
      return '';
    };
    expect(() => discoverGpus(broken)).toThrow(GpuError);
  });
});

describe('planGpuSlots', () => {
  const base = { discover: () => four, autoWouldUseGpu: () => true, cores: 32, env: {} };

  it('under --device gpu: every listed GPU is a slot, workers default to the slots, cores are shared', () => {
    const p = planGpuSlots({ ...base, device: 'gpu' })!;
    expect(p.gpus.map((g) => g.index)).toEqual([0, 1, 2, 3]);
    expect([p.slots, p.workers, p.decodeWorkers]).toEqual([4, 4, 8]);
  });

  it('--gpus picks GPUs, --trials-per-gpu multiplies the slots, --decode-workers overrides the share', () => {
    const p = planGpuSlots({ ...base, device: 'auto', gpus: '3,1', trialsPerGpu: 2, decodeWorkers: 3 })!;
    expect(p.gpus.map((g) => g.index)).toEqual([3, 1]);
    expect([p.slots, p.workers, p.decodeWorkers]).toEqual([4, 4, 3]);
    expect(planGpuSlots({ ...base, device: 'gpu', workers: 2 })!.decodeWorkers).toBe(16);
    expect(decodeWorkersPerTrial(2, 4)).toBe(1);
  });

  it('refuses what cannot be honoured, each with one line', () => {
    expect(() => planGpuSlots({ ...base, device: 'gpu', gpus: '0,7' })).toThrow('--gpus: GPU 7 is not on this machine (nvidia-smi lists 0, 1, 2, 3)');
    expect(() => planGpuSlots({ ...base, device: 'gpu', workers: 5 })).toThrow(
      '--workers 5: more than the 4 GPU slot(s) (4 GPU(s) x 1 trial(s) per GPU); lower --workers or raise --trials-per-gpu',
    );
    expect(() => planGpuSlots({ ...base, device: 'cpu', gpus: '0' })).toThrow('--gpus and --trials-per-gpu need --device gpu or auto (got --device cpu)');
    expect(() => planGpuSlots({ ...base, device: 'gpu', discover: () => [] })).toThrow('device gpu: nvidia-smi lists no usable GPU');
    expect(() => planGpuSlots({ ...base, device: 'gpu', env: { CUDA_VISIBLE_DEVICES: 'GPU-abc' } })).toThrow('is not a list of GPU indices');
  });

  it('runs on the CPU (no plan) for cpu/js, and for auto where TensorFlow would not see a GPU', () => {
    let asked = false;
    const discover = () => {
      asked = true;
      return four;
    };
    expect(planGpuSlots({ ...base, discover, device: 'cpu' })).toBeNull();
    expect(planGpuSlots({ ...base, discover, device: 'auto', autoWouldUseGpu: () => false })).toBeNull();
    expect(asked).toBe(false);
    expect(planGpuSlots({ ...base, device: 'auto', discover: () => [] })).toBeNull();
  });

  it("keeps to the driver's own CUDA_VISIBLE_DEVICES when --gpus is not given", () => {
    expect(planGpuSlots({ ...base, device: 'gpu', env: { CUDA_VISIBLE_DEVICES: '2,0' } })!.gpus.map((g) => g.index)).toEqual([0, 2]);
  });
});

describe('GpuPool', () => {
  it('gives each holder its own GPU, the least busy first, and waits when all are taken', async () => {
    const pool = new GpuPool(four.slice(0, 2), 2);
    const a = pool.tryAcquire()!;
    const b = pool.tryAcquire()!;
    expect([a.gpu.index, b.gpu.index]).toEqual([0, 1]); // spread before sharing
    const c = pool.tryAcquire()!;
    const d = pool.tryAcquire()!;
    expect(pool.busy).toEqual([2, 2]);
    expect(pool.tryAcquire()).toBeNull();
    let got: number | null = null;
    const waiting = pool.acquire().then((l) => (got = l.gpu.index));
    await Promise.resolve();
    expect(got).toBeNull();
    b.release();
    b.release(); // twice is once
    await waiting;
    expect(got).toBe(1);
    expect(pool.busy).toEqual([2, 2]);
    for (const l of [a, c, d]) l.release();
    expect(pool.free).toBe(3); // the waiter still holds one
  });
});

describe('what a trial process is given', () => {
  it('its GPU only, numbered as nvidia-smi does, with memory growth', () => {
    expect(trialGpuEnv(four[2])).toEqual({ CUDA_VISIBLE_DEVICES: '2', CUDA_DEVICE_ORDER: 'PCI_BUS_ID', TF_FORCE_GPU_ALLOW_GROWTH: 'true' });
  });

  it('tags with the facts nvidia-smi gave, and none it did not', () => {
    expect(gpuTags({ ...four[1], cudaVersion: '12.4' })).toEqual({
      'gpu.index': '1',
      'gpu.name': 'NVIDIA H100 80GB HBM3',
      'gpu.memory_mib': '81559',
      'gpu.driver_version': '550.54.15',
      'gpu.cuda_version': '12.4',
    });
    expect(gpuTags({ index: 5 })).toEqual({ 'gpu.index': '5' });
  });
});

describe('CUDA failures', () => {
  const gpu = four[3];
  it('names the GPU when the reason or the stderr tail shows a CUDA failure', () => {
    expect(findCudaError('2026-01-01 F tensorflow/core/common_runtime/gpu/gpu_event_mgr.cc] CUDA_ERROR_ILLEGAL_ADDRESS: an illegal memory access\n')).toBe(
      '2026-01-01 F tensorflow/core/common_runtime/gpu/gpu_event_mgr.cc] CUDA_ERROR_ILLEGAL_ADDRESS: an illegal memory access',
    );
    expect(cudaFailReason('ResourceExhaustedError: OOM when allocating tensor with shape[64,256,56,56]', '', gpu)).toBe(
      'ResourceExhaustedError: OOM when allocating tensor with shape[64,256,56,56] [CUDA error on GPU 3 (NVIDIA H100 80GB HBM3)]',
    );
    expect(cudaFailReason('trial process exited (signal SIGABRT) without a result', 'ok\nCould not create cudnn handle: CUDNN_STATUS_INTERNAL_ERROR\n', gpu)).toBe(
      'trial process exited (signal SIGABRT) without a result [CUDA error on GPU 3 (NVIDIA H100 80GB HBM3): Could not create cudnn handle: CUDNN_STATUS_INTERNAL_ERROR]',
    );
  });

  it('leaves other failures alone', () => {
    expect(cudaFailReason('asked to throw at epoch 2', 'loss 0.3\nan error in the data\n', gpu)).toBeNull();
    expect(findCudaError('the loss is non-finite (cudaless)')).toBeNull();
  });

  it('keeps the last characters of a stream while passing it through', () => {
    const src = new PassThrough();
    const sink = new PassThrough();
    let seen = '';
    sink.on('data', (d: Buffer) => (seen += d.toString()));
    const tail = new StderrTail(src, 8, sink);
    src.write('0123456789');
    src.write('abc');
    expect(tail.text()).toBe('56789abc');
    expect(seen).toBe('0123456789abc');
  });
});
