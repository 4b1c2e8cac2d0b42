// Types of gpu-libs.cjs (plain JavaScript, run by setup-native.mjs before anything is built).
export interface Requirement {
  name: string;
  version: string;
}
export interface Architectures {
  sass: number[];
  ptx: number[];
  entries: number;
}
export function andCudaRequirements(metadata: string): Requirement[];
export function installedDistributions(sitePackages: string): Map<string, string>;
export function checkCudaWheels(required: Requirement[], installed: Map<string, string>): string[];
export function expectedCudaFiles(required: Requirement[]): { wheel: string; file: string }[];
export function checkStagedFiles(nvidiaDir: string, required: Requirement[]): string[];
export function elfSection(file: string, name: string): { offset: number; size: number } | null;
export function fatbinArchitectures(file: string): Architectures;
export function gpuSupport(archs: Architectures, cc: string): 'native' | 'ptx-jit' | 'unsupported';
export function describeArchitectures(archs: Architectures): string;
