import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import {
  andCudaRequirements,
  checkCudaWheels,
  checkStagedFiles,
  describeArchitectures,
  expectedCudaFiles,
  fatbinArchitectures,
  gpuSupport,
  installedDistributions,
} from '../bin/gpu-libs.cjs';

const dirs: string[] = [];
function tmp(): string {
  const d = fs.mkdtempSync(path.join(os.tmpdir(), 'iccl-gpu-libs-'));
  dirs.push(d);
  return d;
}
afterAll(() => dirs.forEach((d) => fs.rmSync(d, { recursive: true, force: true })));

// As in the METADATA of the tensorflow 2.18.1 wheel (a few of its lines).
const METADATA = [
  'Metadata-Version: 2.1',
  'Name: tensorflow',
  'Version: 2.18.1',
  'Requires-Dist: numpy <2.1.0,>=1.26.0',
  "Requires-Dist: nvidia-cublas-cu12 ==12.5.3.2 ; extra == 'and-cuda'",
  "Requires-Dist: nvidia-cuda-nvcc-cu12 ==12.5.82 ; extra == 'and-cuda'",
  "Requires-Dist: nvidia-cuda-runtime-cu12 ==12.5.82 ; extra == 'and-cuda'",
  "Requires-Dist: nvidia-cudnn-cu12 ==9.3.0.75 ; extra == 'and-cuda'",
  "Requires-Dist: nvidia-cufft-cu12 ==11.2.3.61 ; extra == 'and-cuda'",
  "Requires-Dist: nvidia-nccl-cu12 ==2.21.5 ; extra == 'and-cuda'",
  'Requires-Dist: tensorflow-io-gcs-filesystem >=0.23.1 ; python_version < "3.12"',
].join('\n');

describe('the CUDA wheels and libraries setup --gpu stages', () => {
  const required = andCudaRequirements(METADATA);

  it('reads the versions the and-cuda extra pins, and nothing else', () => {
    expect(required).toEqual([
      { name: 'nvidia-cublas-cu12', version: '12.5.3.2' },
      { name: 'nvidia-cuda-nvcc-cu12', version: '12.5.82' },
      { name: 'nvidia-cuda-runtime-cu12', version: '12.5.82' },
      { name: 'nvidia-cudnn-cu12', version: '9.3.0.75' },
      { name: 'nvidia-cufft-cu12', version: '11.2.3.61' },
      { name: 'nvidia-nccl-cu12', version: '2.21.5' },
    ]);
  });

  it('finds a missing wheel and one at another version', () => {
    const site = tmp();
    for (const d of ['nvidia_cublas_cu12-12.5.3.2', 'nvidia_cuda_nvcc_cu12-12.5.82', 'nvidia_cuda_runtime_cu12-12.5.82', 'nvidia_cudnn_cu12-9.1.0.70', 'nvidia_nccl_cu12-2.21.5', 'tensorflow-2.18.1'])
      fs.mkdirSync(path.join(site, `${d}.dist-info`));
    const installed = installedDistributions(site);
    expect(installed.get('nvidia-cudnn-cu12')).toBe('9.1.0.70');
    expect(checkCudaWheels(required, installed)).toEqual(['nvidia-cudnn-cu12 is 9.1.0.70, TensorFlow pins 9.3.0.75', 'nvidia-cufft-cu12==11.2.3.61 is not installed']);
    expect(checkCudaWheels([], installed)).toEqual(['the and-cuda extra names no cuDNN wheel: is this a CUDA build of TensorFlow?']);
  });

  it('expects each library under the major version of its wheel, and ptxas', () => {
    const files = expectedCudaFiles(required).map((f) => f.file);
    expect(files).toEqual([
      'cublas/lib/libcublas.so.12',
      'cublas/lib/libcublasLt.so.12',
      'cuda_nvcc/bin/ptxas',
      'cuda_runtime/lib/libcudart.so.12',
      'cudnn/lib/libcudnn.so.9',
      'cufft/lib/libcufft.so.11',
      'nccl/lib/libnccl.so.2',
    ]);
    const nvidia = tmp();
    for (const f of files) {
      fs.mkdirSync(path.dirname(path.join(nvidia, f)), { recursive: true });
      fs.writeFileSync(path.join(nvidia, f), '');
    }
    expect(checkStagedFiles(nvidia, required)).toEqual([]);
    fs.rmSync(path.join(nvidia, 'cudnn/lib/libcudnn.so.9'));
    expect(checkStagedFiles(nvidia, required)).toEqual([`cudnn/lib/libcudnn.so.9 (from nvidia-cudnn-cu12) is missing under ${nvidia}`]);
  });
});

/** A fatbin container: header, then entries {kind, header size 64, payload size, arch at byte 28}. */
function container(entries: { kind: number; arch: number; payload: number }[]): Buffer {
  const parts = entries.map((e) => {
    const h = Buffer.alloc(64);
    h.writeUInt16LE(e.kind, 0);
    h.writeUInt16LE(0x0101, 2);
    h.writeUInt32LE(64, 4);
    h.writeBigUInt64LE(BigInt(e.payload), 8);
    h.writeUInt32LE(e.arch, 28);
    return Buffer.concat([h, Buffer.alloc(e.payload, 0xab)]);
  });
  const body = Buffer.concat(parts);
  const head = Buffer.alloc(16);
  head.writeUInt32LE(0xba55ed50, 0);
  head.writeUInt16LE(1, 4);
  head.writeUInt16LE(16, 6);
  head.writeBigUInt64LE(BigInt(body.length), 8);
  return Buffer.concat([head, body]);
}

/** A minimal ELF64 file: sections [null, `name` holding `data`, .shstrtab]. */
function elf(name: string, data: Buffer): Buffer {
  const strtab = Buffer.from(`\0${name}\0.shstrtab\0`, 'latin1');
  const dataOff = 64;
  const strOff = dataOff + data.length;
  const shOff = strOff + strtab.length;
  const h = Buffer.alloc(64);
  h.writeUInt32BE(0x7f454c46, 0);
  h[4] = 2; // 64-bit
  h[5] = 1; // little-endian
  h.writeBigUInt64LE(BigInt(shOff), 0x28);
  h.writeUInt16LE(64, 0x3a);
  h.writeUInt16LE(3, 0x3c);
  h.writeUInt16LE(2, 0x3e);
  const sh = Buffer.alloc(64 * 3);
  const section = (i: number, nameAt: number, off: number, size: number) => {
    sh.writeUInt32LE(nameAt, i * 64);
    sh.writeBigUInt64LE(BigInt(off), i * 64 + 0x18);
    sh.writeBigUInt64LE(BigInt(size), i * 64 + 0x20);
  };
  section(1, 1, dataOff, data.length);
  section(2, 2 + name.length, strOff, strtab.length);
  return Buffer.concat([h, data, strtab, sh]);
}

describe('the GPU architectures libtensorflow carries', () => {
  it('reads machine code and PTX architectures from .nv_fatbin, across containers and padding', () => {
    const fat = Buffer.concat([
      container([
        { kind: 2, arch: 80, payload: 24 },
        { kind: 2, arch: 90, payload: 8 },
      ]),
      Buffer.alloc(8), // padding between containers
      container([
        { kind: 1, arch: 90, payload: 40 },
        { kind: 2, arch: 80, payload: 16 },
      ]),
    ]);
    const file = path.join(tmp(), 'lib.so');
    fs.writeFileSync(file, elf('.nv_fatbin', fat));
    const a = fatbinArchitectures(file);
    expect(a).toEqual({ sass: [80, 90], ptx: [90], entries: 4 });
    expect(describeArchitectures(a)).toBe('sm_80, sm_90 and PTX compute_90');
  });

  it('finds none in a CPU library, and refuses a file that is not ELF', () => {
    const dir = tmp();
    fs.writeFileSync(path.join(dir, 'cpu.so'), elf('.text', Buffer.alloc(32)));
    expect(fatbinArchitectures(path.join(dir, 'cpu.so'))).toEqual({ sass: [], ptx: [], entries: 0 });
    fs.writeFileSync(path.join(dir, 'x.so'), 'not an elf file at all, not at all, really not one, no');
    expect(() => fatbinArchitectures(path.join(dir, 'x.so'))).toThrow('is not a 64-bit little-endian ELF file');
  });

  it('says how a GPU runs it: machine code of its major, PTX compiled by the driver, or not at all', () => {
    const tf218 = { sass: [60, 70, 80, 89, 90], ptx: [90], entries: 0 }; // as read from the 2.18.1 wheel's libtensorflow_cc.so.2
    expect(['9.0', '8.6', '7.5', '6.1', '10.0', '12.0', '5.2'].map((cc) => gpuSupport(tf218, cc))).toEqual(['native', 'native', 'native', 'native', 'ptx-jit', 'ptx-jit', 'unsupported']);
    expect(gpuSupport({ sass: [80, 90], ptx: [90], entries: 0 }, '7.5')).toBe('unsupported');
  });
});
