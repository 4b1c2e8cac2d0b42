/**
 * The kind of machine a float32 computation is bit-exact on. TensorFlow's CPU kernels (Eigen and
 * oneDNN) choose their code by the CPU's vector instructions and split their sums by thread count,
 * so the same code gives the same bits only on a machine with the same instruction sets and threads:
 * on 2026-12-07 the unchanged code of ec26a93 computed another golden trace on an AVX-512 (BF16) EPYC
 * than it had on the EPYC of 2026-12-04, differing from the first step on in the 8th digit.
 */
import * as os from 'node:os';
import { cpuFlags } from '../../plugins/longtail/src/train/cpu-flags';

export interface MachineKind {
  /** what identifies the kind: cpu model, vector instruction sets, threads */
  key: string;
  cpu: string;
  isa: string[];
  threads: number;
}

/** The instruction sets the kernels dispatch on, in the order they extend each other. */
const DISPATCH_FLAGS = ['sse4_2', 'avx', 'fma', 'avx2', 'avx_vnni', 'avx512f', 'avx512bw', 'avx512_vnni', 'avx512_bf16', 'amx_tile', 'amx_bf16'];

export function machineKindOf(cpu: string, flags: string[], threads: number): MachineKind {
  const have = new Set(flags);
  const isa = DISPATCH_FLAGS.filter((f) => have.has(f));
  return { key: `${cpu.trim()} | ${isa.join(' ') || 'no vector flags'} | ${threads} threads`, cpu: cpu.trim(), isa, threads };
}

/** This machine's kind (Linux: the flags of /proc/cpuinfo; elsewhere none are read and the key says so). */
export function thisMachineKind(): MachineKind {
  return machineKindOf(os.cpus()[0]?.model ?? 'unknown cpu', cpuFlags(), os.availableParallelism());
}
