// tests/deploy: deploy/Dockerfile without building it (no registry for base
// images here). On a Debian 12 host, which is what the image's stages run:
//
// - two stages on Debian 12; the runtime stage runs as a numeric non-root user;
// - the runtime stage installs exactly the Debian packages that provide the
//   shared libraries the binary links (readelf DT_NEEDED of $NETCANARY ->
//   ldd path -> dpkg -S), besides libc6 (in every Debian image) and
//   ca-certificates (TLS for http probes): a new library or a stale package
//   fails here, not in production;
// - the build stage installs the -dev package of every meson dependency()
//   (pkg-config --path -> dpkg -S), and copies every directory and file meson
//   setup reads; it configures with -Dtests=disabled, so the test suites'
//   dependencies (required: get_option('tests'), i.e. cmocka) are NOT
//   installed.
import { readFileSync, readdirSync, statSync, existsSync } from "node:fs";
import { join, relative } from "node:path";
import { P, ROOT, check, fatal, finish, log, pass, run, which } from "./lib/common.mjs";

const text = readFileSync(P.dockerfile, "utf8").replace(/\\\n/g, " ");
const stages = [];
for (const raw of text.split("\n")) {
  const line = raw.trim();
  if (!line || line.startsWith("#")) continue;
  const [ins, ...rest] = line.split(/\s+/);
  const arg = rest.join(" ");
  if (ins.toUpperCase() === "FROM") stages.push({ from: arg, lines: [] });
  else if (stages.length) stages[stages.length - 1].lines.push({ ins: ins.toUpperCase(), arg });
}
check(stages.length === 2, `two stages (build, runtime): ${stages.map((s) => s.from).join(" | ")}`);
check(stages.every((s) => /^debian:12(-slim)?(\s|$)/.test(s.from)), "both stages on Debian 12");
const [build, runtime] = stages;

const aptPackages = (stage) =>
  stage.lines
    .filter((l) => l.ins === "RUN")
    .flatMap((l) => [...l.arg.matchAll(/apt-get install ([^&;|]*)/g)].flatMap((m) => m[1].split(/\s+/)))
    .filter((w) => w && !w.startsWith("-"))
    .sort();
const runtimePkgs = aptPackages(runtime);
const buildPkgs = aptPackages(build);

const user = runtime.lines.filter((l) => l.ins === "USER").pop()?.arg || "";
check(/^[1-9]\d*(:[1-9]\d*)?$/.test(user), `runtime runs as a numeric non-root user (USER ${user})`);
check(
  runtime.lines.some((l) => l.ins === "COPY" && /--from=build\b/.test(l.arg) && /\/usr\/bin\/netcanary$/.test(l.arg)),
  "runtime copies only the binary from the build stage",
);
check(runtime.lines.some((l) => l.ins === "ENTRYPOINT" && l.arg.includes("/usr/bin/netcanary")), "entrypoint is the daemon");
const cmd = runtime.lines.find((l) => l.ins === "CMD")?.arg || "";
check(cmd.includes('"--config"') && cmd.includes('"/etc/netcanary/config.json"'), "default command reads /etc/netcanary/config.json (the ConfigMap mount)");
check(runtime.lines.some((l) => l.ins === "RUN" && /rm -rf \/var\/lib\/apt\/lists/.test(l.arg)), "runtime drops apt lists");

// The build stage copies what meson setup reads: every subdir() of the top-level meson.build.
// COPY SRC... DEST: every source (flags such as --chown left out).
const copied = build.lines
  .filter((l) => l.ins === "COPY")
  .flatMap((l) => l.arg.split(/\s+/).filter((w) => w && !w.startsWith("--")).slice(0, -1))
  .map((w) => w.replace(/\/$/, ""));
const topMeson = readFileSync(join(ROOT, "meson.build"), "utf8");
for (const m of topMeson.matchAll(/subdir\('([^']+)'\)/g)) check(copied.includes(m[1]), `build stage copies ${m[1]}/ (meson subdir)`);
check(copied.includes("meson.build"), "build stage copies meson.build");
for (const f of ["meson_options.txt", "meson.options"]) {
  if (existsSync(join(ROOT, f))) check(copied.includes(f), `build stage copies ${f} (meson reads the options there)`);
}
// The image is built without the test suites (-Dtests=disabled): their
// build-time packages (cmocka) stay out of the build stage.
const setup = build.lines.filter((l) => l.ins === "RUN" && /\bmeson setup\b/.test(l.arg)).map((l) => l.arg).join(" ");
const testsDisabled = /-Dtests=disabled\b/.test(setup);
check(testsDisabled, "build stage configures with -Dtests=disabled (the daemon only)", setup || "no meson setup in the build stage");
if (/include_directories\('include'/.test(topMeson)) check(copied.includes("include"), "build stage copies include/ (include_directories)");

const debian = existsSync("/etc/debian_version") ? readFileSync("/etc/debian_version", "utf8").trim() : "";
if (!/^12\./.test(debian) || !which("dpkg") || !which("readelf")) {
  log(`host is not Debian 12 with dpkg and readelf (${debian || "unknown"}): package checks skipped`);
  finish();
}
const NETCANARY = process.env.NETCANARY;
if (!NETCANARY || !existsSync(NETCANARY)) fatal("NETCANARY is not set to the netcanary binary");

function packageOf(path) {
  const r = run("dpkg", ["-S", path]);
  if (r.status !== 0) {
    // merged /usr: dpkg knows /lib/... when ldd says /usr/lib/... and back
    const alt = path.startsWith("/usr/") ? path.slice(4) : `/usr${path}`;
    const r2 = run("dpkg", ["-S", alt]);
    if (r2.status !== 0) return null;
    return r2.stdout.split(":")[0].trim();
  }
  return r.stdout.split(":")[0].trim();
}

// Runtime: DT_NEEDED -> path -> package.
const needed = [...run("readelf", ["-d", NETCANARY]).stdout.matchAll(/\(NEEDED\)\s+Shared library: \[([^\]]+)\]/g)].map((m) => m[1]);
check(needed.length > 0, `binary links ${needed.join(", ")}`);
const lddOut = run("ldd", [NETCANARY]).stdout;
const wanted = new Set();
for (const lib of needed) {
  const m = new RegExp(`^\\s*${lib.replace(/[.+]/g, "\\$&")} => (\\S+)`, "m").exec(lddOut);
  const pkg = m && packageOf(m[1]);
  if (!check(pkg, `${lib}: found (${m?.[1]}) in Debian package ${pkg}`)) continue;
  if (pkg !== "libc6") wanted.add(pkg);
}
const extra = new Set(["ca-certificates"]);
for (const p of wanted) check(runtimePkgs.includes(p), `runtime installs ${p}`);
for (const p of runtimePkgs) check(wanted.has(p) || extra.has(p), `runtime package ${p} is needed (a linked library, or TLS roots)`);

// Build: every meson dependency()'s pkg-config file -> its -dev package.
const mesonFiles = [];
(function walk(dir) {
  for (const e of readdirSync(dir)) {
    if (e === "node_modules" || e.startsWith(".") || e.startsWith("build")) continue;
    const p = join(dir, e);
    if (statSync(p).isDirectory()) walk(p);
    else if (e === "meson.build") mesonFiles.push(p);
  }
})(ROOT);
const deps = new Set();
const testDeps = new Set(); // required: get_option('tests'): only with the test suites
for (const f of mesonFiles) {
  const body = readFileSync(f, "utf8");
  for (const m of body.matchAll(/dependency\('([^']+)'([^)]*)\)/g)) {
    if (/required\s*:\s*false/.test(m[2])) continue;
    if (/required\s*:\s*get_option\('tests'/.test(m[2])) {
      testDeps.add(m[1]);
      log(`meson dependency '${m[1]}' in ${relative(ROOT, f)} (tests feature)`);
      continue;
    }
    deps.add(m[1]);
    log(`meson dependency '${m[1]}' in ${relative(ROOT, f)}`);
  }
}
for (const d of testDeps) if (!testsDisabled) deps.add(d);
for (const d of deps) {
  const r = run("pkg-config", ["--path", d]);
  const pkg = r.status === 0 ? packageOf(r.stdout.trim()) : null;
  if (!check(pkg, `meson dependency ${d}: ${r.stdout.trim()} from Debian package ${pkg}`)) continue;
  check(buildPkgs.includes(pkg), `build stage installs ${pkg} (for ${d})`);
}
if (testsDisabled) {
  for (const d of testDeps) {
    const r = run("pkg-config", ["--path", d]);
    // Not installed here means it cannot be in the build stage's list by this name: check the usual -dev name too.
    const pkg = r.status === 0 ? packageOf(r.stdout.trim()) : `lib${d}-dev`;
    check(!buildPkgs.includes(pkg), `build stage does not install ${pkg} (${d}: tests only, configured out)`);
  }
}
for (const tool of ["gcc", "pkg-config", "meson", "ninja-build"]) check(buildPkgs.includes(tool), `build stage installs ${tool}`);

// Programs meson runs (find_program): their package is installed by the build
// stage, or is Essential/required (in every Debian image).
const progs = new Set();
for (const f of mesonFiles) {
  for (const m of readFileSync(f, "utf8").matchAll(/find_program\('([^']+)'([^)]*)\)/g)) {
    if (!/required\s*:\s*false/.test(m[2])) progs.add(m[1]);
  }
}
for (const prog of progs) {
  // Debian's own program (what the image has), not e.g. a pyenv shim on PATH.
  const path = [`/usr/bin/${prog}`, `/bin/${prog}`].find((p) => existsSync(p)) || which(prog);
  const real = path && run("readlink", ["-f", path]).stdout.trim();
  const pkg = path && (packageOf(path) || packageOf(real));
  if (!check(pkg, `meson find_program('${prog}'): ${real} from Debian package ${pkg}`)) continue;
  const q = run("dpkg-query", ["-W", "-f=${Essential} ${Priority}", pkg]).stdout.trim();
  const inBase = /^yes\b/.test(q) || /\brequired$/.test(q);
  check(inBase || buildPkgs.includes(pkg) || buildPkgs.includes(pkg.replace(/-minimal$/, "")), `build stage has ${prog} (${pkg}: ${inBase ? "in every Debian image" : "installed"})`);
}
pass(`host Debian ${debian}`);
finish();
