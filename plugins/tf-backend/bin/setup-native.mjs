#!/usr/bin/env node
// Gives @tensorflow/tfjs-node (or -gpu with --gpu) a working native libtensorflow on this machine.
//
// 1. If the addon already loads and runs natively: done (the common, fast case).
// 2. If the host that tfjs-node's own install script downloads from answers: run that script
//    unchanged (the normal path, for machines that can download).
// 3. Otherwise take libtensorflow from the TensorFlow wheel on PyPI (pinned below), check that it
//    exports every C and eager C API function the binding calls, stage it where the install script
//    expects its download, and let that script build the addon from source with node-gyp.
// Wheels and their extracted libraries are cached outside the repo, so a second clone sets up in seconds.
//
// Plain ESM JavaScript on purpose: it runs right after `npm ci --ignore-scripts`, before anything is built,
// and ships as the `iccl-setup-native` bin of @iccl/tf-backend for users' projects.
// A SIGUSR1 listener of our own, before any work: Node.js would otherwise open its inspector on that signal.
process.on('SIGUSR1', () => {});
import { execFileSync, spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as https from 'node:https';
import * as os from 'node:os';
import * as path from 'node:path';
import { createRequire } from 'node:module';
import { fileURLToPath } from 'node:url';

const TF_WHEEL_VERSION = '2.18.1'; // first TensorFlow line whose wheel ships libtensorflow_cc.so.2 with the C API we need, checked with nm
const WHEEL_PYTHON = '3.11';
const WHEEL_PLATFORM = 'manylinux2014_x86_64';

const args = new Set(process.argv.slice(2));
const gpu = args.has('--gpu');
const force = args.has('--force');
// The project whose tfjs-node gets the addon: the one we are run from (the workspace root under
// tools/setup.sh, the user's project under `npx iccl-setup-native`); failing that, the project that
// installed this package (node_modules/@iccl/tf-backend/bin -> up to the folder holding node_modules).
const here = path.dirname(fileURLToPath(import.meta.url));
const pkgName = gpu ? '@tensorflow/tfjs-node-gpu' : '@tensorflow/tfjs-node';
const searchFrom = [process.cwd(), here];
let root = process.cwd();
const cacheRoot = process.env.ICCL_NATIVE_CACHE || path.join(process.env.XDG_CACHE_HOME || path.join(os.homedir(), '.cache'), 'iccl-native');

const say = (m) => process.stderr.write(`[native] ${m}\n`);
function fail(m) {
  process.stderr.write(`[native] ERROR: ${m}\n`);
  process.exit(1);
}

/** Finds the installed tfjs-node package and sets `root` to the project folder that holds it. */
function packageDir() {
  for (const from of searchFrom) {
    try {
      const dir = path.dirname(createRequire(path.join(from, 'noop.js')).resolve(`${pkgName}/package.json`));
      const nm = dir.lastIndexOf(`${path.sep}node_modules${path.sep}`);
      if (nm >= 0) root = dir.slice(0, nm);
      return dir;
    } catch {
      // not installed where this folder resolves; try the next
    }
  }
  return null;
}

/** Loads the addon in a fresh process and reports what it runs on. */
function verify() {
  const code = `process.env.TF_CPP_MIN_LOG_LEVEL='2';const tf=require(${JSON.stringify(pkgName)});const b=tf.backend();` +
    `console.log(JSON.stringify({backend:tf.getBackend(),tensorflow:b.binding.TF_Version,gpu:!!b.isUsingGpuDevice}))`;
  const r = spawnSync(process.execPath, ['-e', code], { cwd: root, encoding: 'utf8' });
  if (r.status !== 0) return { ok: false, why: (r.stderr || '').trim().split('\n').slice(-3).join(' | ') };
  try {
    const info = JSON.parse(r.stdout.trim().split('\n').pop());
    return { ok: info.backend === 'tensorflow', info, why: `backend is ${info.backend}` };
  } catch {
    return { ok: false, why: `unexpected output: ${r.stdout}` };
  }
}

function headOk(url, timeoutMs = 8000) {
  return new Promise((resolve) => {
    const req = https.request(url, { method: 'HEAD', timeout: timeoutMs }, (res) => {
      res.resume();
      resolve(res.statusCode === 200);
    });
    req.on('timeout', () => req.destroy());
    req.on('error', () => resolve(false));
    req.end();
  });
}

function buildEnv() {
  const env = { ...process.env, PATH: `${path.join(root, 'node_modules/.bin')}${path.delimiter}${process.env.PATH}` };
  // node-gyp would download Node's headers; use the ones installed with Node when they are there.
  const nodedir = path.resolve(path.dirname(process.execPath), '..');
  if (fs.existsSync(path.join(nodedir, 'include/node/node_api.h'))) env.npm_config_nodedir = nodedir;
  return env;
}

function runInstallScript(dir, extra = []) {
  const r = spawnSync(process.execPath, ['scripts/install.js', gpu ? 'gpu' : 'cpu', ...extra], { cwd: dir, env: buildEnv(), encoding: 'utf8' });
  const log = `${r.stdout}\n${r.stderr}`;
  fs.writeFileSync(path.join(cacheRoot, `build-${gpu ? 'gpu' : 'cpu'}.log`), log);
  return r.status === 0 && !/failed with error/.test(log);
}

function python() {
  for (const p of ['python3', 'python']) if (spawnSync(p, ['--version']).status === 0) return p;
  fail('python3 is needed to fetch the TensorFlow wheel (pip download); install python3 and pip');
}

/** Downloads (once) and unpacks (once) the libraries and C headers of the pinned wheel. */
function libtensorflowFromWheel() {
  const variant = gpu ? 'gpu' : 'cpu';
  const dest = path.join(cacheRoot, `libtensorflow-${variant}-${TF_WHEEL_VERSION}`);
  if (fs.existsSync(path.join(dest, '.complete'))) return dest;
  const py = python();
  const wheels = path.join(cacheRoot, 'wheels');
  fs.mkdirSync(wheels, { recursive: true });
  let wheel;
  let nvidiaDir = null;
  if (!gpu) {
    say(`fetching tensorflow-cpu==${TF_WHEEL_VERSION} wheel (about 250 MB, once)`);
    const r = spawnSync(py, ['-m', 'pip', 'download', '--no-deps', '--only-binary=:all:', '--python-version', WHEEL_PYTHON,
      '--platform', WHEEL_PLATFORM, '--dest', wheels, `tensorflow-cpu==${TF_WHEEL_VERSION}`], { stdio: ['ignore', 'ignore', 'inherit'] });
    if (r.status !== 0) fail(`pip could not download tensorflow-cpu==${TF_WHEEL_VERSION}; check the package index is reachable`);
    wheel = fs.readdirSync(wheels).find((f) => f.startsWith(`tensorflow_cpu-${TF_WHEEL_VERSION}-`) && f.endsWith('.whl'));
  } else {
    // CUDA build: the `tensorflow` wheel plus the NVIDIA runtime wheels it names in its and-cuda extra,
    // installed into a private venv whose nvidia/ tree is linked next to the staged libraries.
    const venv = path.join(cacheRoot, `gpu-venv-${TF_WHEEL_VERSION}`);
    if (!fs.existsSync(path.join(venv, 'bin/python'))) execFileSync(py, ['-m', 'venv', venv], { stdio: 'inherit' });
    say(`installing tensorflow[and-cuda]==${TF_WHEEL_VERSION} into ${venv} (several GB, once)`);
    execFileSync(path.join(venv, 'bin/python'), ['-m', 'pip', 'install', '-q', `tensorflow[and-cuda]==${TF_WHEEL_VERSION}`], { stdio: 'inherit' });
    const site = execFileSync(path.join(venv, 'bin/python'), ['-c', 'import sysconfig;print(sysconfig.get_paths()["purelib"])'], { encoding: 'utf8' }).trim();
    nvidiaDir = path.join(site, 'nvidia');
    const r = spawnSync(py, ['-m', 'pip', 'download', '--no-deps', '--only-binary=:all:', '--python-version', WHEEL_PYTHON,
      '--platform', WHEEL_PLATFORM, '--dest', wheels, `tensorflow==${TF_WHEEL_VERSION}`], { stdio: ['ignore', 'ignore', 'inherit'] });
    if (r.status !== 0) fail(`pip could not download tensorflow==${TF_WHEEL_VERSION}`);
    wheel = fs.readdirSync(wheels).find((f) => f.startsWith(`tensorflow-${TF_WHEEL_VERSION}-`) && f.endsWith('.whl'));
  }
  if (!wheel) fail(`the downloaded wheel is not in ${wheels}`);
  say(`unpacking libtensorflow and C headers from ${wheel}`);
  const tmp = `${dest}.tmp-${process.pid}`;
  fs.rmSync(tmp, { recursive: true, force: true });
  const extract = [
    'import sys, zipfile, os, shutil',
    'whl, out = sys.argv[1], sys.argv[2]',
    'z = zipfile.ZipFile(whl)',
    'for n in z.namelist():',
    '    if n in ("tensorflow/libtensorflow_cc.so.2", "tensorflow/libtensorflow_framework.so.2"):',
    '        t = os.path.join(out, "lib", os.path.basename(n))',
    '    elif n.startswith("tensorflow/include/") and not n.endswith("/"):',
    '        t = os.path.join(out, "include", n[len("tensorflow/include/"):])',
    '    else:',
    '        continue',
    '    os.makedirs(os.path.dirname(t), exist_ok=True)',
    '    with z.open(n) as src, open(t, "wb") as dst: shutil.copyfileobj(src, dst, 1 << 20)',
  ].join('\n');
  execFileSync(py, ['-c', extract, path.join(wheels, wheel), tmp], { stdio: 'inherit' });
  if (nvidiaDir) fs.symlinkSync(nvidiaDir, path.join(tmp, 'nvidia'));
  fs.writeFileSync(path.join(tmp, '.complete'), JSON.stringify({ wheel, at: new Date().toISOString() }) + '\n');
  fs.rmSync(dest, { recursive: true, force: true });
  fs.renameSync(tmp, dest);
  return dest;
}

/** Every C API function the binding calls must be exported by the library, or the addon cannot link. */
function checkSymbols(libDir, includeDir, pkgDir) {
  const bindingSrc = fs.readdirSync(path.join(pkgDir, 'binding')).map((f) => fs.readFileSync(path.join(pkgDir, 'binding', f), 'utf8')).join('\n');
  const called = new Set([...bindingSrc.matchAll(/\b(TFE?_[A-Za-z0-9_]+)\s*\(/g)].map((m) => m[1]));
  const declared = new Set();
  const walk = (d) => {
    for (const e of fs.readdirSync(d, { withFileTypes: true })) {
      const p = path.join(d, e.name);
      if (e.isDirectory()) walk(p);
      else if (e.name.endsWith('.h')) for (const m of fs.readFileSync(p, 'utf8').matchAll(/TF_CAPI_EXPORT[^;{]*?\b(TFE?_[A-Za-z0-9_]+)\s*\(/g)) declared.add(m[1]);
    }
  };
  walk(path.join(includeDir, 'tensorflow/c'));
  const needed = [...called].filter((s) => declared.has(s));
  const nm = spawnSync('nm', ['-D', '--defined-only', path.join(libDir, 'libtensorflow_cc.so.2'), path.join(libDir, 'libtensorflow_framework.so.2')], { encoding: 'utf8', maxBuffer: 1 << 28 });
  if (nm.status !== 0) fail('nm (binutils) is needed to check the library exports');
  const exported = new Set(nm.stdout.split('\n').map((l) => l.trim().split(/\s+/)[2]).filter(Boolean).map((s) => s.replace(/@.*$/, '')));
  const missing = needed.filter((s) => !exported.has(s));
  if (needed.length < 30) fail(`found only ${needed.length} C API calls in the binding sources: the check itself is broken`);
  if (missing.length) fail(`libtensorflow from the ${TF_WHEEL_VERSION} wheel lacks ${missing.length} symbols the binding calls: ${missing.join(', ')}`);
  say(`libtensorflow exports all ${needed.length} C/eager C API functions the binding calls`);
}

/** Hard links when the cache is on the same file system (free), copies otherwise. */
function linkOrCopy(src, dst) {
  fs.rmSync(dst, { force: true });
  try {
    fs.linkSync(src, dst);
  } catch {
    fs.copyFileSync(src, dst);
  }
}

function stage(srcDir, pkgDir) {
  const constants = createRequire(path.join(pkgDir, 'package.json'))('./scripts/deps-constants.js');
  const deps = constants.depsPath;
  fs.rmSync(deps, { recursive: true, force: true });
  fs.mkdirSync(constants.depsLibPath, { recursive: true });
  const lib = constants.depsLibPath;
  linkOrCopy(path.join(srcDir, 'lib/libtensorflow_cc.so.2'), path.join(lib, 'libtensorflow_cc.so.2'));
  linkOrCopy(path.join(srcDir, 'lib/libtensorflow_framework.so.2'), path.join(lib, 'libtensorflow_framework.so.2'));
  // The binding links -ltensorflow -ltensorflow_framework; the install script looks for the versioned name.
  fs.symlinkSync('libtensorflow_cc.so.2', constants.depsLibTensorFlowPath);
  fs.symlinkSync('libtensorflow_cc.so.2', path.join(lib, 'libtensorflow.so'));
  fs.symlinkSync('libtensorflow_framework.so.2', path.join(lib, 'libtensorflow_framework.so'));
  fs.symlinkSync(path.join(srcDir, 'include'), path.join(deps, 'include'));
  if (fs.existsSync(path.join(srcDir, 'nvidia'))) fs.symlinkSync(fs.realpathSync(path.join(srcDir, 'nvidia')), path.join(deps, 'nvidia'));
}

/** Built addons are cached per tfjs-node version, variant, library, platform and N-API version. */
function addonCacheDir(pkgDir) {
  const { version } = JSON.parse(fs.readFileSync(path.join(pkgDir, 'package.json'), 'utf8'));
  const variant = gpu ? 'gpu' : 'cpu';
  return path.join(cacheRoot, `addon-${variant}-tfjs-node-${version}-tf-${TF_WHEEL_VERSION}-${process.platform}-${process.arch}-napi${process.versions.napi}`);
}

function saveAddon(pkgDir) {
  const dest = addonCacheDir(pkgDir);
  const tmp = `${dest}.tmp-${process.pid}`;
  fs.rmSync(tmp, { recursive: true, force: true });
  fs.cpSync(path.join(pkgDir, 'lib'), tmp, { recursive: true });
  fs.rmSync(dest, { recursive: true, force: true });
  fs.renameSync(tmp, dest);
}

/**
 * A second project (or a reinstall) stages the library and copies the addon built before against it
 * (so already checked): seconds, not a node-gyp build. Returns what it runs on, or null.
 */
function restoreAddon(srcDir, pkgDir) {
  const cached = addonCacheDir(pkgDir);
  if (!fs.existsSync(cached)) return null;
  stage(srcDir, pkgDir);
  fs.rmSync(path.join(pkgDir, 'lib'), { recursive: true, force: true });
  fs.cpSync(cached, path.join(pkgDir, 'lib'), { recursive: true });
  const v = verify();
  if (v.ok) return v.info;
  say(`the cached addon in ${cached} does not load (${v.why}); building it again`);
  return null;
}

/**
 * --gpu: the NVIDIA wheels are the versions the TensorFlow wheel pins, the libraries TensorFlow opens
 * are where it looks, and libtensorflow carries code for this machine's GPU (nvidia-smi), or one line says not.
 */
function checkGpuStaging(src) {
  const libs = createRequire(import.meta.url)('./gpu-libs.cjs');
  const nvidia = path.join(src, 'nvidia');
  if (!fs.existsSync(nvidia)) fail(`no NVIDIA libraries were staged next to libtensorflow (${nvidia}); remove ${src} and run again`);
  const site = path.dirname(fs.realpathSync(nvidia));
  const meta = path.join(site, `tensorflow-${TF_WHEEL_VERSION}.dist-info`, 'METADATA');
  if (!fs.existsSync(meta)) fail(`${meta} is missing: the GPU venv does not hold tensorflow==${TF_WHEEL_VERSION}`);
  const required = libs.andCudaRequirements(fs.readFileSync(meta, 'utf8'));
  const problems = [...libs.checkCudaWheels(required, libs.installedDistributions(site)), ...libs.checkStagedFiles(nvidia, required)];
  if (problems.length) fail(`the CUDA libraries staged for TensorFlow ${TF_WHEEL_VERSION} are not what it needs: ${problems.join('; ')}`);
  const pin = (n) => required.find((r) => r.name === n)?.version ?? '?';
  say(`CUDA runtime ${pin('nvidia-cuda-runtime-cu12')}, cuDNN ${pin('nvidia-cudnn-cu12')} and ${required.length - 2} more NVIDIA wheels as TensorFlow ${TF_WHEEL_VERSION} pins them, libraries in place`);
  const archs = libs.fatbinArchitectures(path.join(src, 'lib/libtensorflow_cc.so.2'));
  if (archs.sass.length + archs.ptx.length === 0) fail('libtensorflow_cc.so.2 carries no GPU code: this is not a CUDA build');
  say(`libtensorflow carries GPU code for ${libs.describeArchitectures(archs)}`);
  const smi = spawnSync('nvidia-smi', ['--query-gpu=index,name,compute_cap', '--format=csv,noheader'], { encoding: 'utf8' });
  for (const line of smi.status === 0 ? smi.stdout.trim().split('\n').filter(Boolean) : []) {
    const [index, name, cc] = line.split(',').map((x) => x.trim());
    const how = libs.gpuSupport(archs, cc);
    if (how === 'unsupported') fail(`GPU ${index} (${name}, compute capability ${cc}) is older than anything libtensorflow ${TF_WHEEL_VERSION} was built for`);
    say(`GPU ${index} (${name}, compute capability ${cc}): ${how === 'native' ? 'runs its machine code' : 'runs PTX the driver compiles at the first start (minutes, then cached)'}`);
  }
}

async function main() {
  fs.mkdirSync(cacheRoot, { recursive: true });
  let dir = packageDir();
  if (!dir && gpu) {
    say(`${pkgName} is not installed: adding it (without its download script)`);
    execFileSync('npm', ['install', '--no-save', '--ignore-scripts', `${pkgName}@4.22.0`], { cwd: root, stdio: 'inherit' });
    dir = packageDir();
  }
  if (!dir) fail(`${pkgName} is not installed in ${process.cwd()}; install it first (npm install --ignore-scripts ${pkgName}@4.22.0)`);

  if (!force) {
    const v = verify();
    if (v.ok) {
      say(`ready: ${pkgName} on native TensorFlow ${v.info.tensorflow} (${v.info.gpu ? 'GPU' : 'CPU'})`);
      return;
    }
  }

  const constants = createRequire(path.join(dir, 'package.json'))('./scripts/deps-constants.js');
  const officialUrl = `https://storage.googleapis.com/tensorflow/libtensorflow/libtensorflow-${gpu ? 'gpu' : 'cpu'}-linux-x86_64-${constants.LIBTENSORFLOW_VERSION}.tar.gz`;
  const baseOverride = process.env.TFJS_NODE_BASE_URI || process.env.npm_config_TFJS_NODE_BASE_URI;
  const probe = baseOverride ? `${baseOverride}${gpu ? 'gpu' : 'cpu'}-linux-x86_64-${constants.LIBTENSORFLOW_VERSION}.tar.gz` : officialUrl;
  if (!process.env.ICCL_NATIVE_FROM_WHEEL && probe.startsWith('https') && (await headOk(probe))) {
    say('libtensorflow download host reachable: running tfjs-node\'s own install (normal path)');
    if (runInstallScript(dir, ['download']) && verify().ok) {
      say('ready (downloaded libtensorflow)');
      return;
    }
    say('the normal install did not produce a working addon; trying the PyPI wheel instead');
  } else {
    say('libtensorflow download host not reachable: using the TensorFlow wheel from the Python package index');
  }

  const src = libtensorflowFromWheel();
  if (gpu) checkGpuStaging(src);
  const restored = restoreAddon(src, dir);
  if (restored) {
    say(`ready: ${pkgName} on native TensorFlow ${restored.tensorflow} (${restored.gpu ? 'GPU' : 'CPU'}), addon from the cache`);
    return;
  }
  checkSymbols(path.join(src, 'lib'), path.join(src, 'include'), dir);
  stage(src, dir);
  say('building the tfjs-node addon from source against it (node-gyp)');
  if (!runInstallScript(dir)) fail(`building the addon failed; log: ${path.join(cacheRoot, `build-${gpu ? 'gpu' : 'cpu'}.log`)}`);
  const v = verify();
  if (!v.ok) fail(`the addon was built but does not load: ${v.why}`);
  saveAddon(dir);
  say(`ready: ${pkgName} on native TensorFlow ${v.info.tensorflow} (${v.info.gpu ? 'GPU' : 'CPU'}), library from the ${TF_WHEEL_VERSION} wheel`);
}

main().catch((e) => fail(e.stack || String(e)));
