// Checks of what `setup-native.mjs --gpu` staged: the NVIDIA runtime wheels against the versions the
// TensorFlow wheel's `and-cuda` extra pins, the shared libraries TensorFlow opens from them, and the GPU
// architectures libtensorflow carries code for (read from its .nv_fatbin section, no CUDA tools needed).
// Plain CommonJS: it runs right after `npm ci`, before anything is built, and the tests require it too.
'use strict';
const fs = require('node:fs');
const path = require('node:path');

/** `Requires-Dist: nvidia-cudnn-cu12 ==9.3.0.75 ; extra == 'and-cuda'` lines of a wheel's METADATA. */
function andCudaRequirements(metadata) {
  const out = [];
  for (const line of metadata.split('\n')) {
    const m = /^Requires-Dist:\s*([A-Za-z0-9._-]+)\s*\(?\s*==\s*([^\s;)]+)\s*\)?\s*;\s*extra\s*==\s*["']and-cuda["']/.exec(line.trim());
    if (m) out.push({ name: normalize(m[1]), version: m[2] });
  }
  return out;
}

/** PEP 503 names: nvidia_cudnn_cu12 and nvidia-cudnn-cu12 are one distribution. */
function normalize(name) {
  return name.toLowerCase().replace(/[-_.]+/g, '-');
}

/** name -> version of the distributions installed in a site-packages folder (from *.dist-info folder names). */
function installedDistributions(sitePackages) {
  const out = new Map();
  for (const e of fs.readdirSync(sitePackages)) {
    const m = /^(.+?)-([^-]+)\.dist-info$/.exec(e);
    if (m) out.set(normalize(m[1]), m[2]);
  }
  return out;
}

/** One line per required NVIDIA wheel that is missing or at another version. */
function checkCudaWheels(required, installed) {
  const problems = [];
  for (const r of required) {
    const have = installed.get(r.name);
    if (have === undefined) problems.push(`${r.name}==${r.version} is not installed`);
    else if (have !== r.version) problems.push(`${r.name} is ${have}, TensorFlow pins ${r.version}`);
  }
  if (!required.some((r) => r.name === 'nvidia-cudnn-cu12' || r.name.startsWith('nvidia-cudnn-'))) problems.push('the and-cuda extra names no cuDNN wheel: is this a CUDA build of TensorFlow?');
  return problems;
}

// What each NVIDIA wheel brings that TensorFlow needs: libraries named lib<X>.so.<major of the wheel's
// version> under nvidia/<dir>/lib (cuDNN 9.3 -> libcudnn.so.9, cuFFT 11.2 -> libcufft.so.11), and ptxas.
const WHEEL_FILES = {
  'cuda-runtime': { dir: 'cuda_runtime', libs: ['cudart'] },
  'cuda-cupti': { dir: 'cuda_cupti', libs: ['cupti'] },
  'cuda-nvrtc': { dir: 'cuda_nvrtc', libs: ['nvrtc'] },
  'cuda-nvcc': { dir: 'cuda_nvcc', bins: ['ptxas'] },
  cublas: { dir: 'cublas', libs: ['cublas', 'cublasLt'] },
  cudnn: { dir: 'cudnn', libs: ['cudnn'] },
  cufft: { dir: 'cufft', libs: ['cufft'] },
  curand: { dir: 'curand', libs: ['curand'] },
  cusolver: { dir: 'cusolver', libs: ['cusolver'] },
  cusparse: { dir: 'cusparse', libs: ['cusparse'] },
  nccl: { dir: 'nccl', libs: ['nccl'] },
  nvjitlink: { dir: 'nvjitlink', libs: ['nvJitLink'] },
};

/** The files (relative to the nvidia/ folder) the required wheels must have put there. */
function expectedCudaFiles(required) {
  const out = [];
  for (const r of required) {
    const m = /^nvidia-(.+)-cu\d+$/.exec(r.name);
    const w = m && WHEEL_FILES[m[1]];
    if (!w) continue;
    const major = r.version.split('.')[0];
    for (const l of w.libs ?? []) out.push({ wheel: r.name, file: `${w.dir}/lib/lib${l}.so.${major}` });
    for (const b of w.bins ?? []) out.push({ wheel: r.name, file: `${w.dir}/bin/${b}` });
  }
  return out;
}

/** One line per library or tool the wheels should have staged under `nvidiaDir` and did not. */
function checkStagedFiles(nvidiaDir, required) {
  return expectedCudaFiles(required)
    .filter((f) => !fs.existsSync(path.join(nvidiaDir, f.file)))
    .map((f) => `${f.file} (from ${f.wheel}) is missing under ${nvidiaDir}`);
}

/** Offset and size of the ELF64 little-endian section `name` of `file`, or null when it has none. */
function elfSection(file, name) {
  const fd = fs.openSync(file, 'r');
  try {
    const h = Buffer.alloc(64);
    fs.readSync(fd, h, 0, 64, 0);
    if (h.readUInt32BE(0) !== 0x7f454c46 || h[4] !== 2 || h[5] !== 1) throw new Error(`${file} is not a 64-bit little-endian ELF file`);
    const shoff = Number(h.readBigUInt64LE(0x28));
    const shentsize = h.readUInt16LE(0x3a);
    const shnum = h.readUInt16LE(0x3c);
    const shstrndx = h.readUInt16LE(0x3e);
    const sh = Buffer.alloc(shentsize * shnum);
    fs.readSync(fd, sh, 0, sh.length, shoff);
    const at = (i) => ({ name: sh.readUInt32LE(i * shentsize), offset: Number(sh.readBigUInt64LE(i * shentsize + 0x18)), size: Number(sh.readBigUInt64LE(i * shentsize + 0x20)) });
    const strtab = at(shstrndx);
    const names = Buffer.alloc(strtab.size);
    fs.readSync(fd, names, 0, names.length, strtab.offset);
    for (let i = 0; i < shnum; i++) {
      const s = at(i);
      const end = names.indexOf(0, s.name);
      if (names.toString('latin1', s.name, end) === name) return { offset: s.offset, size: s.size };
    }
    return null;
  } finally {
    fs.closeSync(fd);
  }
}

const FATBIN_MAGIC = 0xba55ed50;

/**
 * GPU architectures in the .nv_fatbin section of a library: `sass` (machine code: runs on GPUs of that
 * compute capability and later minor versions of the same major) and `ptx` (compiled at load time by
 * the driver for any later GPU). 80 means compute capability 8.0. Reads the container and entry headers
 * only: a container is {u32 magic, u16 version, u16 header size, u64 payload size}, each entry
 * {u16 kind (1 PTX, 2 ELF), u16, u32 header size, u64 payload size, ..., u32 arch at byte 28}.
 */
function fatbinArchitectures(file) {
  const sec = elfSection(file, '.nv_fatbin');
  if (!sec) return { sass: [], ptx: [], entries: 0 };
  const fd = fs.openSync(file, 'r');
  const sass = new Set();
  const ptx = new Set();
  let entries = 0;
  try {
    const head = Buffer.alloc(32);
    let pos = 0;
    while (pos + 16 <= sec.size) {
      fs.readSync(fd, head, 0, 16, sec.offset + pos);
      if (head.readUInt32LE(0) !== FATBIN_MAGIC) {
        pos += 8; // containers are 8-byte aligned, with padding between them
        continue;
      }
      const headerSize = head.readUInt16LE(6);
      const end = pos + headerSize + Number(head.readBigUInt64LE(8));
      let e = pos + headerSize;
      while (e + 32 <= end) {
        fs.readSync(fd, head, 0, 32, sec.offset + e);
        const kind = head.readUInt16LE(0);
        const arch = head.readUInt32LE(28);
        if (kind === 1) ptx.add(arch);
        else if (kind === 2) sass.add(arch);
        entries += 1;
        const step = head.readUInt32LE(4) + Number(head.readBigUInt64LE(8));
        if (step <= 0) break;
        e += step;
      }
      pos = end;
    }
  } finally {
    fs.closeSync(fd);
  }
  const sorted = (s) => [...s].sort((a, b) => a - b);
  return { sass: sorted(sass), ptx: sorted(ptx), entries };
}

/**
 * How a GPU of compute capability `cc` ("9.0") runs a library with these architectures: 'native'
 * (machine code for its major at or below its minor), 'ptx-jit' (only PTX of an older one: compiled
 * by the driver at the first start, minutes, then cached), or 'unsupported'.
 */
function gpuSupport(archs, cc) {
  const [maj, min] = String(cc).split('.').map(Number);
  const v = maj * 10 + (min || 0);
  if (archs.sass.some((a) => Math.floor(a / 10) === maj && a <= v)) return 'native';
  if (archs.ptx.some((a) => a <= v)) return 'ptx-jit';
  return 'unsupported';
}

/** "sm_60, sm_70 and PTX compute_90" */
function describeArchitectures(archs) {
  const sm = archs.sass.map((a) => `sm_${a}`).join(', ') || 'no machine code';
  return archs.ptx.length ? `${sm} and PTX ${archs.ptx.map((a) => `compute_${a}`).join(', ')}` : sm;
}

module.exports = {
  andCudaRequirements,
  installedDistributions,
  checkCudaWheels,
  expectedCudaFiles,
  checkStagedFiles,
  elfSection,
  fatbinArchitectures,
  gpuSupport,
  describeArchitectures,
};
