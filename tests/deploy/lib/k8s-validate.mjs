// Validates Kubernetes objects against the Kubernetes API schemas, twice:
//
// 1. kubernetes-models (and @kubernetes-models/prometheus-operator for the
//    monitoring.coreos.com CRDs): each object goes through the model class's
//    validate(), the JSON Schema of the OpenAPI spec compiled with ajv: types,
//    required fields, enums, formats.
// 2. The same packages' TypeScript declarations, generated from the same
//    OpenAPI spec, with the TypeScript compiler: every object becomes a typed
//    object literal, and tsc's excess-property check rejects unknown fields
//    (a typo such as `readinesProbe`), which JSON Schema without
//    additionalProperties: false lets through; the API server's strict field
//    validation would reject them.
import { mkdirSync, symlinkSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { HERE, run } from "./common.mjs";

/* Module path (without extension) of the model of apiVersion/kind. */
export function modelPath(apiVersion, kind) {
  if (apiVersion === "monitoring.coreos.com/v1") return `@kubernetes-models/prometheus-operator/monitoring.coreos.com/v1/${kind}`;
  return `kubernetes-models/${apiVersion}/${kind}`;
}

export function describe(o) {
  const ns = o?.metadata?.namespace ? `${o.metadata.namespace}/` : "";
  return `${o?.kind}/${ns}${o?.metadata?.name} (${o?.apiVersion})`;
}

/* Schema validation of one object: returns null when valid, else the error text. */
export async function schemaValidate(o) {
  if (!o || typeof o.apiVersion !== "string" || typeof o.kind !== "string") return "no apiVersion/kind";
  let mod;
  try {
    mod = await import(modelPath(o.apiVersion, o.kind));
  } catch (e) {
    return `no model for ${o.apiVersion} ${o.kind} in kubernetes-models: ${e.message}`;
  }
  const Model = mod[o.kind];
  if (typeof Model !== "function") return `model module has no class ${o.kind}`;
  try {
    new Model(o).validate();
    return null;
  } catch (e) {
    return e.message;
  }
}

/*
 * Strict (unknown-field and type) check of many objects with tsc. Returns a
 * Map from the index in `objs` to the error lines for that object, plus
 * `fatal` when tsc itself could not run.
 */
export function strictTypeCheck(objs, tmpDir) {
  const dir = join(tmpDir, "tsc");
  mkdirSync(dir, { recursive: true });
  try {
    symlinkSync(join(HERE, "node_modules"), join(dir, "node_modules"));
  } catch {
    /* exists */
  }
  const lines = [];
  const lineOf = new Map();
  const imports = new Map();
  objs.forEach((o) => {
    const p = modelPath(o.apiVersion, o.kind);
    if (!imports.has(p)) imports.set(p, `T${imports.size}`);
  });
  for (const [p, alias] of imports) {
    const kind = p.split("/").pop();
    lines.push(`import type { I${kind} as ${alias} } from "${p}";`);
  }
  objs.forEach((o, i) => {
    lineOf.set(lines.length + 1, i);
    lines.push(`export const o${i}: ${imports.get(modelPath(o.apiVersion, o.kind))} = ${JSON.stringify(o)};`);
  });
  writeFileSync(join(dir, "objects.ts"), lines.join("\n") + "\n");
  writeFileSync(
    join(dir, "tsconfig.json"),
    JSON.stringify({
      compilerOptions: {
        strict: true,
        noEmit: true,
        module: "node16",
        moduleResolution: "node16",
        skipLibCheck: true,
        types: [],
      },
      files: ["objects.ts"],
    }),
  );
  writeFileSync(join(dir, "package.json"), JSON.stringify({ type: "module" }));
  const r = run(process.execPath, [join(HERE, "node_modules/typescript/bin/tsc"), "-p", join(dir, "tsconfig.json")], {
    cwd: dir,
    timeoutMs: 120000,
  });
  const errors = new Map();
  const out = (r.stdout + r.stderr).trim();
  if (r.status === 0) return { errors };
  let matched = 0;
  for (const line of out.split("\n")) {
    const m = /^objects\.ts\((\d+),(\d+)\): (error .*)$/.exec(line.trim());
    if (!m) continue;
    const idx = lineOf.get(Number(m[1]));
    if (idx === undefined) return { errors, fatal: out };
    matched++;
    const src = lines[Number(m[1]) - 1];
    const col = Number(m[2]);
    const near = src.slice(Math.max(0, col - 60), col + 40);
    if (!errors.has(idx)) errors.set(idx, []);
    errors.get(idx).push(`${m[3]}\n  near: ...${near}...`);
  }
  if (matched === 0) return { errors, fatal: out || `tsc exited ${r.status}` };
  return { errors };
}
