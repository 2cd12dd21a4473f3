// PromQL helpers on the official PromQL grammar (@prometheus-io/lezer-promql,
// the parser of Prometheus' own web UI): syntax errors, the metric names an
// expression reads, and an alert expression with its final threshold
// comparisons removed (what the alert compares, so it can be checked for data).
import { parser } from "@prometheus-io/lezer-promql";

const COMPARISONS = new Set(["Eql", "Neq", "Gtr", "Lss", "Gte", "Lte"]);
const SET_OPS = new Set(["And", "Or", "Unless"]);

/* Positions of syntax errors (empty when the expression parses). */
export function syntaxErrors(expr) {
  const errs = [];
  parser.parse(expr).iterate({
    enter(n) {
      if (n.type.isError) errs.push(n.from);
    },
  });
  return errs;
}

/* Metric names of the vector selectors in expr (`name{...}` and {__name__="name"}). */
export function metricNames(expr) {
  const names = new Set();
  const tree = parser.parse(expr);
  tree.iterate({
    enter(n) {
      if (n.name === "VectorSelector") {
        const id = n.node.getChild("Identifier");
        if (id) names.add(expr.slice(id.from, id.to));
      } else if (n.name === "UnquotedLabelMatcher" || n.name === "QuotedLabelMatcher") {
        const ln = n.node.getChild("LabelName");
        const op = n.node.getChild("MatchOp");
        const sl = n.node.getChild("StringLiteral");
        if (ln && sl && op && expr.slice(ln.from, ln.to) === "__name__" && expr.slice(op.from, op.to) === "=")
          names.add(JSON.parse(expr.slice(sl.from, sl.to)));
      }
    },
  });
  return [...names];
}

function children(node) {
  const out = [];
  for (let c = node.firstChild; c; c = c.nextSibling) out.push(c);
  return out;
}

function isScalarLiteral(node) {
  if (!node) return false;
  if (node.name === "NumberDurationLiteral" || node.name === "NumberLiteral") return true;
  if (node.name === "ParenExpr" || node.name === "UnaryExpr") return children(node).some(isScalarLiteral);
  return false;
}

/*
 * The expression without its filtering comparisons against a literal
 * (`X > 0.25` -> `X`), through parentheses, both sides of `or` and the left
 * side of `and`/`unless` (their right side is a condition and stays). So
 * `(A > 0) or (B == 1)` becomes `(A) or (B)`: the series the alert compares.
 */
export function stripThresholds(expr) {
  const tree = parser.parse(expr);
  const text = (n) => expr.slice(n.from, n.to);
  const strip = (n) => {
    if (n.name === "PromQL") return children(n).map(strip).join("");
    if (n.name === "ParenExpr") {
      const inner = children(n).find((c) => c.name !== "(" && c.name !== ")");
      return inner ? `(${strip(inner)})` : text(n);
    }
    if (n.name !== "BinaryExpr") return text(n);
    const cs = children(n);
    const opIdx = cs.findIndex((c) => COMPARISONS.has(c.name) || SET_OPS.has(c.name) || /^(Add|Sub|Mul|Div|Mod|Pow|Atan2)$/.test(c.name));
    if (opIdx <= 0) return text(n);
    const lhs = cs[0];
    const rhs = cs[cs.length - 1];
    const op = cs[opIdx].name;
    const hasBool = cs.some((c) => c.name === "BoolModifier");
    const opText = expr.slice(lhs.to, rhs.from);
    if (COMPARISONS.has(op) && !hasBool) {
      if (isScalarLiteral(rhs)) return strip(lhs);
      if (isScalarLiteral(lhs)) return strip(rhs);
      return text(n);
    }
    if (op === "Or") return strip(lhs) + opText + strip(rhs);
    if (op === "And" || op === "Unless") return strip(lhs) + opText + text(rhs);
    return text(n);
  };
  return strip(tree.topNode).trim();
}
