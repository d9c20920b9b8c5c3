#!/usr/bin/env node
// Installs @tensorflow/tfjs-node (or, with --gpu, @tensorflow/tfjs-node-gpu) for the `tensorflow` backend without
// the CDN its own install script downloads from: the TensorFlow C library comes from the pinned PyPI wheel
// (verified by its sha256), the binding is compiled here with node-gyp against it. Idempotent: returns at once
// when the install is complete and current.
//
//   node scripts/tfjs-node.mjs [--gpu] [--wheel FILE] [--dir DIR] [--force] [--check]
//
// The install lands in <dir>/<cpu|gpu>/node_modules (default dir: .cache/tfjs-node, or $REPTILE_BENCH_TFJS_NODE_DIR),
// outside the workspace's node_modules and lockfile: `pnpm install --frozen-lockfile` never needs it, and
// @reptile-bench/backend's loader looks there after the usual module resolution. Its @tensorflow/tfjs and
// @tensorflow/tfjs-core are links to the workspace's copies, so one tfjs-core serves every backend.
//
// Exit status: 0 installed (or already current), 1 a failure that needs fixing (a build error, a hash mismatch),
// 2 this machine cannot install it (no pip or network, unsupported platform): the tests then skip, naming why.
import { spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import {
  createReadStream,
  existsSync,
  mkdirSync,
  readdirSync,
  readFileSync,
  realpathSync,
  renameSync,
  rmSync,
  symlinkSync,
  writeFileSync,
} from 'node:fs';
import { createRequire } from 'node:module';
import { arch, platform } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';

const root = resolve(dirname(fileURLToPath(import.meta.url)), '..');

/** The tfjs version of the workspace (packages/backend pins tfjs-core to it); tfjs-node must match it. */
const TFJS_VERSION = '4.22.0';

/**
 * The wheels whose TensorFlow C library is used: libtensorflow_cc.so.2 and libtensorflow_framework.so.2 export
 * every TF_/TFE_ function the binding calls, and the wheel carries the C headers. The shared libraries do not
 * depend on Python, so the cp311 wheel serves any Python (or none). The sha256 values are PyPI's own, read from
 * its JSON simple index (`curl -H 'Accept: application/vnd.pypi.simple.v1+json'
 * https://pypi.org/simple/tensorflow-cpu/`, the file's `hashes.sha256`), and match `sha256sum` of the
 * downloaded files.
 */
const variants = {
  cpu: {
    npmPackage: '@tensorflow/tfjs-node',
    wheel: {
      project: 'tensorflow-cpu',
      version: '2.21.0',
      file: 'tensorflow_cpu-2.21.0-cp311-cp311-manylinux_2_27_x86_64.whl',
      sha256: '2b847d217b02ee7731ed91431daf3250daa0196c3c94614d23be27232e6e5b6c',
      bytes: 273_829_956,
    },
  },
  gpu: {
    npmPackage: '@tensorflow/tfjs-node-gpu',
    // The CUDA build: the same C library with GPU kernels; CUDA 12 and cuDNN 9 come separately (see the README).
    wheel: {
      project: 'tensorflow',
      version: '2.21.0',
      file: 'tensorflow-2.21.0-cp311-cp311-manylinux_2_27_x86_64.whl',
      sha256: '9056fbc9ba04235810b71ae6cbd958a196e8804fb53bbcffbf3e23b56155f124',
      bytes: 572_440_367,
    },
  },
};

const usage = `usage: node scripts/tfjs-node.mjs [options]
  --gpu          install @tensorflow/tfjs-node-gpu from the CUDA build (tensorflow ${variants.gpu.wheel.version})
                 instead of @tensorflow/tfjs-node from tensorflow-cpu ${variants.cpu.wheel.version}
  --wheel FILE   use this wheel file (it must be the pinned one: same sha256) instead of downloading it
  --dir DIR      install under DIR/<cpu|gpu> (default: $REPTILE_BENCH_TFJS_NODE_DIR or .cache/tfjs-node)
  --force        reinstall even when the install is current
  --check        only report whether the install is current (exit 0) or not (exit 1)`;

class CannotInstall extends Error {}

function log(message) {
  console.error(`tfjs-node: ${message}`);
}

function run(command, args, options = {}) {
  const result = spawnSync(command, args, { stdio: ['ignore', 'inherit', 'inherit'], ...options });
  if (result.error?.code === 'ENOENT') return { missing: true, status: null };
  return { missing: false, status: result.status, stdout: result.stdout?.toString() ?? '' };
}

async function sha256Of(file) {
  const hash = createHash('sha256');
  for await (const chunk of createReadStream(file, { highWaterMark: 1 << 22 })) hash.update(chunk);
  return hash.digest('hex');
}

/** The directory of a workspace package as @reptile-bench/backend resolves it (through pnpm's links). */
function workspacePackage(name) {
  const require = createRequire(join(root, 'packages', 'backend', 'package.json'));
  return realpathSync(dirname(require.resolve(`${name}/package.json`)));
}

/** What a current install records; compared field by field with the stamp an install writes last. */
function expectedStamp(variant) {
  const { npmPackage, wheel } = variants[variant];
  return {
    package: `${npmPackage}@${TFJS_VERSION}`,
    wheel: wheel.file,
    sha256: wheel.sha256,
    node_abi: process.versions.modules,
    tfjs: workspacePackage('@tensorflow/tfjs'),
    tfjs_core: workspacePackage('@tensorflow/tfjs-core'),
  };
}

function readStamp(installDir) {
  try {
    return JSON.parse(readFileSync(join(installDir, 'installed.json'), 'utf8'));
  } catch {
    return undefined;
  }
}

function isCurrent(installDir, variant) {
  const stamp = readStamp(installDir);
  if (stamp === undefined) return false;
  const expected = expectedStamp(variant);
  return (
    Object.entries(expected).every(([key, value]) => stamp[key] === value) &&
    existsSync(join(installDir, stamp.binding ?? 'missing'))
  );
}

/** The pinned wheel in the cache (downloaded with pip, which checks the hash, then checked again here). */
async function obtainWheel(wheel, given) {
  const cacheDir = process.env.REPTILE_BENCH_WHEEL_CACHE ?? join(root, '.cache', 'wheels');
  const cached = join(cacheDir, wheel.file);
  if (given !== undefined) {
    const path = resolve(given);
    if (!existsSync(path)) throw new Error(`--wheel ${given}: no such file`);
    const actual = await sha256Of(path);
    if (actual !== wheel.sha256)
      throw new Error(
        `--wheel ${given}: sha256 ${actual} is not that of the pinned ${wheel.file} (${wheel.sha256}); ` +
          `download exactly that file from PyPI (${wheel.project}==${wheel.version})`,
      );
    return path;
  }
  if (existsSync(cached)) {
    if ((await sha256Of(cached)) === wheel.sha256) return cached;
    log(`${cached} does not have the pinned sha256; downloading it again`);
    rmSync(cached);
  }
  mkdirSync(cacheDir, { recursive: true });
  const staging = join(cacheDir, `.download-${process.pid}`);
  rmSync(staging, { recursive: true, force: true });
  mkdirSync(staging);
  const requirements = join(staging, 'requirements.txt');
  writeFileSync(requirements, `${wheel.project}==${wheel.version} --hash=sha256:${wheel.sha256}\n`);
  const python = process.env.PYTHON ?? 'python3';
  log(`downloading ${wheel.file} (${Math.round(wheel.bytes / 1e6)} MB, once) from PyPI with pip`);
  // biome-ignore format: one option per line would hide the command
  const pip = run(python, ['-m', 'pip', 'download', '--no-deps', '--only-binary=:all:', '--platform', 'manylinux_2_27_x86_64',
    '--python-version', '3.11', '--implementation', 'cp', '--abi', 'cp311', '--require-hashes', '-r', requirements,
    '--dest', staging, '--progress-bar', 'off', '--disable-pip-version-check']);
  if (pip.missing) {
    rmSync(staging, { recursive: true, force: true });
    throw new CannotInstall(
      `${python} was not found; pip downloads the TensorFlow wheel (install python3 with pip, set PYTHON, or pass --wheel FILE)`,
    );
  }
  const downloaded = join(staging, wheel.file);
  if (pip.status !== 0 || !existsSync(downloaded)) {
    rmSync(staging, { recursive: true, force: true });
    throw new CannotInstall(
      `pip could not download ${wheel.project}==${wheel.version} (exit ${pip.status}; is PyPI reachable, and pip ` +
        `installed for ${python}?). Alternatively download ${wheel.file} elsewhere and pass --wheel FILE`,
    );
  }
  const actual = await sha256Of(downloaded);
  if (actual !== wheel.sha256) throw new Error(`${downloaded}: sha256 ${actual}, expected ${wheel.sha256}`);
  renameSync(downloaded, cached);
  rmSync(staging, { recursive: true, force: true });
  return cached;
}

/**
 * Python (pip's interpreter, and node-gyp's) unpacks what the binding needs from the wheel: the two libraries and
 * the C headers that the binding's sources include, followed through their own includes.
 */
const extractScript = `
import os, re, shutil, sys, zipfile
wheel, deps, binding = sys.argv[1:4]
z = zipfile.ZipFile(wheel)
names = set(z.namelist())
prefix = 'tensorflow/include/'
todo = []
for source in os.listdir(binding):
    with open(os.path.join(binding, source), encoding='utf-8') as f:
        todo += re.findall(r'#\\s*include\\s*"([^"]+)"', f.read())
seen = set()
while todo:
    header = todo.pop()
    if header in seen or prefix + header not in names:
        continue
    seen.add(header)
    data = z.read(prefix + header)
    target = os.path.join(deps, 'include', header)
    os.makedirs(os.path.dirname(target), exist_ok=True)
    with open(target, 'wb') as f:
        f.write(data)
    todo += re.findall(r'#\\s*include\\s*"([^"]+)"', data.decode('utf-8', 'replace'))
if 'tensorflow/c/c_api.h' not in seen or 'tensorflow/c/eager/c_api.h' not in seen:
    sys.exit('the wheel lacks tensorflow/c/c_api.h or tensorflow/c/eager/c_api.h under ' + prefix)
os.makedirs(os.path.join(deps, 'lib'), exist_ok=True)
for lib in ('libtensorflow_cc.so.2', 'libtensorflow_framework.so.2'):
    with z.open('tensorflow/' + lib) as src, open(os.path.join(deps, 'lib', lib), 'wb') as dst:
        shutil.copyfileobj(src, dst, 1 << 22)
print(len(seen), 'headers')
`;

function compareVersions(a, b) {
  const [x, y] = [a, b].map((v) => v.split('.').map(Number));
  for (let i = 0; i < Math.max(x.length, y.length); i++)
    if ((x[i] ?? 0) !== (y[i] ?? 0)) return (x[i] ?? 0) - (y[i] ?? 0);
  return 0;
}

function findNodeGyp() {
  // npm ships node-gyp; node-pre-gyp finds it through npm_config_node_gyp.
  const npmRoot = spawnSync('npm', ['root', '-g'], { encoding: 'utf8' }).stdout?.trim();
  const candidates = [
    process.env.npm_config_node_gyp,
    npmRoot && join(npmRoot, 'npm', 'node_modules', 'node-gyp', 'bin', 'node-gyp.js'),
    join(
      dirname(process.execPath),
      '..',
      'lib',
      'node_modules',
      'npm',
      'node_modules',
      'node-gyp',
      'bin',
      'node-gyp.js',
    ),
  ];
  return candidates.find((c) => c && existsSync(c));
}

async function install(variant, options) {
  const { npmPackage, wheel } = variants[variant];
  const baseDir = resolve(
    options.dir ?? process.env.REPTILE_BENCH_TFJS_NODE_DIR ?? join(root, '.cache', 'tfjs-node'),
  );
  const installDir = join(baseDir, variant);
  const coreVersion = JSON.parse(
    readFileSync(join(workspacePackage('@tensorflow/tfjs-core'), 'package.json'), 'utf8'),
  ).version;
  if (coreVersion !== TFJS_VERSION)
    throw new Error(
      `the workspace has @tensorflow/tfjs-core ${coreVersion} but this script pins ${npmPackage}@${TFJS_VERSION}; ` +
        'update TFJS_VERSION in scripts/tfjs-node.mjs to the same version',
    );

  if (options.check) {
    const current = isCurrent(installDir, variant);
    console.log(
      current
        ? `${npmPackage} is installed in ${installDir}`
        : `${npmPackage} is not installed (or stale) in ${installDir}`,
    );
    return current ? 0 : 1;
  }
  if (!options.force && isCurrent(installDir, variant)) {
    const stamp = readStamp(installDir);
    log(`${npmPackage} ${TFJS_VERSION} on TensorFlow ${stamp.tensorflow} is installed in ${installDir}`);
    return 0;
  }
  if (platform() !== 'linux' || arch() !== 'x64')
    throw new CannotInstall(
      `the pinned wheels are for Linux x86-64, this is ${platform()} ${arch()}; install ${npmPackage} the usual way ` +
        `(\`pnpm add -w ${npmPackage}@${TFJS_VERSION}\`), which downloads libtensorflow for this platform`,
    );
  const glibc = process.report.getReport().header.glibcVersionRuntime;
  if (glibc !== undefined && compareVersions(glibc, '2.27') < 0)
    throw new CannotInstall(
      `the pinned wheels need glibc 2.27 or newer (manylinux_2_27), this system has ${glibc}`,
    );
  const nodePrefix = resolve(dirname(process.execPath), '..');
  const nodeHeaders = join(nodePrefix, 'include', 'node', 'node_api.h');
  const nodeGyp = findNodeGyp();
  if (nodeGyp === undefined)
    throw new CannotInstall(
      'node-gyp was not found (it comes with npm); install npm, or set npm_config_node_gyp',
    );

  const wheelFile = await obtainWheel(wheel, options.wheel);
  const started = performance.now();
  mkdirSync(baseDir, { recursive: true });
  const staging = join(baseDir, `.${variant}-${process.pid}`);
  rmSync(staging, { recursive: true, force: true });
  mkdirSync(staging, { recursive: true });
  try {
    // A project of its own with just this dependency, installed by npm without install scripts (the package's
    // script would download libtensorflow from the CDN).
    writeFileSync(
      join(staging, 'package.json'),
      `${JSON.stringify({ name: `reptile-bench-${variant}-tfjs-node`, private: true, description: 'made by scripts/tfjs-node.mjs', dependencies: { [npmPackage]: TFJS_VERSION } }, null, 2)}\n`,
    );
    log(`npm install ${npmPackage}@${TFJS_VERSION} --ignore-scripts into ${installDir}`);
    // biome-ignore format: one option per line would hide the command
    const npm = run('npm', ['install', '--ignore-scripts', '--no-audit', '--no-fund', '--no-package-lock', '--omit=dev',
      '--loglevel=error', '--prefix', staging]);
    if (npm.missing) throw new CannotInstall('npm was not found (it comes with Node.js)');
    if (npm.status !== 0)
      throw new CannotInstall(
        `npm install ${npmPackage}@${TFJS_VERSION} failed (exit ${npm.status}; is the npm registry reachable?)`,
      );
    const modules = join(staging, 'node_modules');
    const pkgDir = join(modules, ...npmPackage.split('/'));

    // One tfjs for the whole process: the workspace's tfjs and tfjs-core replace the copies npm installed (the
    // rest of those copies' dependencies go with them).
    for (const entry of readdirSync(join(modules, '@tensorflow')))
      if (`@tensorflow/${entry}` !== npmPackage)
        rmSync(join(modules, '@tensorflow', entry), { recursive: true, force: true });
    symlinkSync(workspacePackage('@tensorflow/tfjs'), join(modules, '@tensorflow', 'tfjs'));
    symlinkSync(workspacePackage('@tensorflow/tfjs-core'), join(modules, '@tensorflow', 'tfjs-core'));

    log(`unpacking the TensorFlow ${wheel.version} C library and headers from ${wheelFile}`);
    const deps = join(pkgDir, 'deps');
    const python = process.env.PYTHON ?? 'python3';
    const extract = run(python, ['-c', extractScript, wheelFile, deps, join(pkgDir, 'binding')]);
    if (extract.missing)
      throw new CannotInstall(`${python} was not found; it unpacks the wheel and runs node-gyp`);
    if (extract.status !== 0) throw new Error(`unpacking ${wheelFile} failed (exit ${extract.status})`);
    // The names binding.gyp links against (-ltensorflow -ltensorflow_framework) and the one the package's own
    // install script checks for before downloading (libtensorflow.so.2.9.1).
    for (const [link, target] of [
      ['libtensorflow.so', 'libtensorflow_cc.so.2'],
      ['libtensorflow.so.2', 'libtensorflow_cc.so.2'],
      ['libtensorflow.so.2.9.1', 'libtensorflow_cc.so.2'],
      ['libtensorflow_framework.so', 'libtensorflow_framework.so.2'],
    ])
      symlinkSync(target, join(deps, 'lib', link));

    log('compiling the binding with node-gyp');
    const env = { ...process.env, npm_config_node_gyp: nodeGyp };
    // The installed Node's own headers: no header download.
    if (existsSync(nodeHeaders)) env.npm_config_nodedir = nodePrefix;
    const preGyp = join(modules, '@mapbox', 'node-pre-gyp', 'bin', 'node-pre-gyp');
    // biome-ignore format: one option per line would hide the command
    const build = run(process.execPath, [preGyp, 'install', '--build-from-source', '--loglevel=warn'], { cwd: pkgDir, env });
    if (build.status !== 0)
      throw new Error(
        `building the binding failed (exit ${build.status})${existsSync(nodeHeaders) ? '' : `; Node's headers were not found at ${nodeHeaders}, so node-gyp tried to download them`}`,
      );
    rmSync(join(pkgDir, 'build'), { recursive: true, force: true });
    const napiDir = readdirSync(join(pkgDir, 'lib')).find((d) =>
      existsSync(join(pkgDir, 'lib', d, 'tfjs_binding.node')),
    );
    if (napiDir === undefined)
      throw new Error(`the build left no tfjs_binding.node under ${join(pkgDir, 'lib')}`);

    // A smoke test in a fresh process: the binding loads, reports its library's version and multiplies.
    const probe = spawnSync(
      process.execPath,
      [
        '-e',
        `const tf = require(${JSON.stringify(pkgDir)});
         const y = tf.matMul(tf.tensor2d([[1, 2], [3, 4]]), tf.tensor2d([[1, 2], [3, 4]])).dataSync().join(',');
         if (y !== '7,10,15,22') throw new Error('matMul gave ' + y);
         console.log(tf.backend().binding.TF_Version);`,
      ],
      { encoding: 'utf8', env: { ...process.env, TF_CPP_MIN_LOG_LEVEL: '2' } },
    );
    const tensorflow = probe.stdout.trim();
    if (probe.status !== 0) throw new Error(`the built binding does not work:\n${probe.stderr}`);

    const stamp = {
      ...expectedStamp(variant),
      tensorflow,
      binding: join('node_modules', ...npmPackage.split('/'), 'lib', napiDir, 'tfjs_binding.node'),
      installed: new Date().toISOString(),
    };
    writeFileSync(join(staging, 'installed.json'), `${JSON.stringify(stamp, null, 2)}\n`);
    // The finished install replaces the old one in one rename: a reader never sees half of it.
    const old = join(baseDir, `.${variant}-old-${process.pid}`);
    if (existsSync(installDir)) renameSync(installDir, old);
    renameSync(staging, installDir);
    rmSync(old, { recursive: true, force: true });
    rmSync(join(installDir, 'unavailable.txt'), { force: true });
    const seconds = ((performance.now() - started) / 1000).toFixed(0);
    log(
      `${npmPackage} ${TFJS_VERSION} on TensorFlow ${tensorflow} is installed in ${installDir} (${seconds} s)`,
    );
    return 0;
  } finally {
    rmSync(staging, { recursive: true, force: true });
  }
}

/** A lock directory: concurrent setups (CI and a developer, two test runs) install once, the others wait. */
async function withLock(baseDir, fn) {
  mkdirSync(baseDir, { recursive: true });
  const lock = join(baseDir, '.lock');
  for (let waited = 0; ; waited++) {
    try {
      mkdirSync(lock);
      writeFileSync(join(lock, 'pid'), String(process.pid));
      break;
    } catch (error) {
      if (error.code !== 'EEXIST') throw error;
      const pid = Number(readFileSync(join(lock, 'pid'), { encoding: 'utf8', flag: 'a+' }));
      let alive = pid > 0;
      try {
        if (alive) process.kill(pid, 0);
      } catch {
        alive = false;
      }
      if (!alive && waited > 2) rmSync(lock, { recursive: true, force: true });
      else {
        if (waited === 0) log(`waiting for another install (pid ${pid || 'starting'}) to finish`);
        await new Promise((r) => setTimeout(r, 1000));
      }
    }
  }
  try {
    return await fn();
  } finally {
    rmSync(lock, { recursive: true, force: true });
  }
}

const { values } = parseArgs({
  options: {
    gpu: { type: 'boolean' },
    wheel: { type: 'string' },
    dir: { type: 'string' },
    force: { type: 'boolean' },
    check: { type: 'boolean' },
    help: { type: 'boolean' },
  },
});
if (values.help) {
  console.log(usage);
  process.exit(0);
}
const variant = values.gpu ? 'gpu' : 'cpu';
const baseDir = resolve(
  values.dir ?? process.env.REPTILE_BENCH_TFJS_NODE_DIR ?? join(root, '.cache', 'tfjs-node'),
);
try {
  process.exitCode = values.check
    ? await install(variant, values)
    : await withLock(baseDir, () => install(variant, values));
} catch (error) {
  const message = error instanceof Error ? error.message : String(error);
  log(`${variants[variant].npmPackage} was not installed: ${message}`);
  if (error instanceof CannotInstall) {
    // Read by the backend's loader, so that a skipped test names the reason.
    mkdirSync(join(baseDir, variant), { recursive: true });
    writeFileSync(join(baseDir, variant, 'unavailable.txt'), `${message}\n`);
    process.exitCode = 2;
  } else process.exitCode = 1;
}
