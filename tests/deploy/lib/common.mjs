// Shared helpers of the tests/deploy scripts: paths, YAML, subprocesses and
// the ok/FAIL bookkeeping (the script exits 1 if anything failed, 77 = skip).
import { spawnSync } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import YAML from "yaml";

export const HERE = resolve(dirname(fileURLToPath(import.meta.url)), "..");
export const ROOT = process.env.SOURCE_ROOT ? resolve(process.env.SOURCE_ROOT) : resolve(HERE, "..", "..");

export const P = {
  rules: join(ROOT, "deploy/prometheus/netcanary-rules.yml"),
  ruleTests: join(ROOT, "deploy/prometheus/tests"),
  promConfig: join(ROOT, "deploy/prometheus/prometheus.yml"),
  prometheusRule: join(ROOT, "deploy/kustomize/monitoring/prometheusrule.yaml"),
  runbook: join(ROOT, "deploy/RUNBOOK.md"),
  kustomize: join(ROOT, "deploy/kustomize"),
  dashboard: join(ROOT, "dashboards/netcanary.json"),
  seed: join(ROOT, "probes/seed-scenario.json"),
  baseMatrix: join(ROOT, "deploy/kustomize/base/matrix.json"),
  dockerfile: join(ROOT, "deploy/Dockerfile"),
};

let fails = 0;
let passes = 0;
const t0 = Date.now();

export function log(msg) {
  const s = ((Date.now() - t0) / 1000).toFixed(1).padStart(6);
  process.stderr.write(`[${s}s] ${msg}\n`);
}
export function pass(msg) {
  passes++;
  log(`ok:   ${msg}`);
}
export function fail(msg) {
  fails++;
  log(`FAIL: ${msg}`);
}
export function check(cond, msg, detail) {
  if (cond) pass(msg);
  else fail(detail ? `${msg}\n        ${String(detail).split("\n").join("\n        ")}` : msg);
  return !!cond;
}
export function skip(msg) {
  log(`SKIP: ${msg}`);
  process.exit(77);
}
export function fatal(msg) {
  fail(msg);
  finish();
}
/* Ends the script: "N passed, N failed" and exit status 1 if any failed. */
export function finish() {
  log(`${passes} passed, ${fails} failed`);
  process.exit(fails > 0 ? 1 : 0);
}

/* Runs a program to completion (bounded by timeoutMs); never throws. */
export function run(cmd, args, { input, cwd, timeoutMs = 120000, env } = {}) {
  const r = spawnSync(cmd, args, {
    input,
    cwd,
    env: env ?? process.env,
    encoding: "utf8",
    timeout: timeoutMs,
    maxBuffer: 64 * 1024 * 1024,
  });
  return {
    status: r.error ? -1 : r.status,
    stdout: r.stdout ?? "",
    stderr: (r.stderr ?? "") + (r.error ? `\n${r.error.message}` : ""),
  };
}

export function which(cmd) {
  const r = run("sh", ["-c", 'command -v "$1"', "sh", cmd]);
  return r.status === 0 ? r.stdout.trim() : null;
}

export function readYaml(path) {
  return YAML.parse(readFileSync(path, "utf8"));
}

/* Every document of a multi-document YAML text, as plain objects (nulls dropped). */
export function parseYamlDocs(text, what) {
  const docs = YAML.parseAllDocuments(text);
  const out = [];
  for (const d of docs) {
    if (d.errors.length) throw new Error(`${what}: ${d.errors.map((e) => e.message).join("; ")}`);
    const o = d.toJS();
    if (o != null) out.push(o);
  }
  return out;
}

export function makeTmp(name) {
  const dir = mkdtempSync(join(process.env.TMPDIR || tmpdir(), `nc-deploy-${name}-`));
  process.on("exit", () => {
    if (!process.env.KEEP_TMP) rmSync(dir, { recursive: true, force: true });
  });
  return dir;
}

/* GitHub's heading anchors: lower case, punctuation dropped, spaces to '-'. */
export function markdownAnchors(text) {
  const anchors = new Set();
  let inCode = false;
  for (const line of text.split("\n")) {
    if (/^```/.test(line)) inCode = !inCode;
    if (inCode) continue;
    const m = /^#{1,6}\s+(.*?)\s*#*\s*$/.exec(line);
    if (!m) continue;
    const slug = m[1]
      .toLowerCase()
      .replace(/`/g, "")
      .replace(/[^\p{L}\p{N}\s_-]/gu, "")
      .replace(/\s/g, "-");
    anchors.add(slug);
  }
  return anchors;
}

export function deepEqual(a, b) {
  return JSON.stringify(canon(a)) === JSON.stringify(canon(b));
}
function canon(v) {
  if (Array.isArray(v)) return v.map(canon);
  if (v && typeof v === "object") {
    const o = {};
    for (const k of Object.keys(v).sort()) o[k] = canon(v[k]);
    return o;
  }
  return v;
}

// JSON with // and /* */ comments (netcanary's config format) to a value.
export function parseJsonc(text) {
  let out = "";
  let i = 0;
  while (i < text.length) {
    const c = text[i];
    if (c === '"') {
      let j = i + 1;
      while (j < text.length && text[j] !== '"') j += text[j] === "\\" ? 2 : 1;
      out += text.slice(i, j + 1);
      i = j + 1;
    } else if (c === "/" && text[i + 1] === "/") {
      while (i < text.length && text[i] !== "\n") i++;
    } else if (c === "/" && text[i + 1] === "*") {
      const j = text.indexOf("*/", i + 2);
      i = j < 0 ? text.length : j + 2;
    } else {
      out += c;
      i++;
    }
  }
  return JSON.parse(out);
}
