/**
 * A small JSON Schema (2020-12) checker for the keywords feather's manifests use: type, enum,
 * const, minimum/maximum (and exclusive), minLength/maxLength, pattern, items/prefixItems,
 * minItems/maxItems, uniqueItems, required, properties, additionalProperties, oneOf/anyOf.
 * Returns the first problem as a sentence, or null. Unknown keywords are ignored (the gateway
 * has the last word).
 */
type Schema = Record<string, unknown> | boolean;

function typeOf(value: unknown): string {
  if (value === null) return "null";
  if (Array.isArray(value)) return "array";
  if (typeof value === "number") return Number.isInteger(value) ? "integer" : "number";
  return typeof value;
}

function matchesType(value: unknown, type: string): boolean {
  const actual = typeOf(value);
  if (type === "number") return actual === "number" || actual === "integer";
  return actual === type;
}

function equal(a: unknown, b: unknown): boolean {
  return JSON.stringify(a) === JSON.stringify(b);
}

function at(path: string, message: string): string {
  return path ? `${path}: ${message}` : message;
}

export function checkSchema(value: unknown, schema: Schema | undefined, path = ""): string | null {
  if (schema === undefined || schema === true) return null;
  if (schema === false) return at(path, "is not allowed");
  const s = schema as Record<string, unknown>;

  if (s.type !== undefined) {
    const types = Array.isArray(s.type) ? (s.type as string[]) : [s.type as string];
    if (!types.some((t) => matchesType(value, t))) {
      return at(path, `must be ${types.map(article).join(" or ")}`);
    }
  }
  if (Array.isArray(s.enum) && !s.enum.some((option) => equal(option, value))) {
    return at(path, `must be one of ${(s.enum as unknown[]).map((o) => JSON.stringify(o)).join(", ")}`);
  }
  if ("const" in s && !equal(s.const, value)) return at(path, `must be ${JSON.stringify(s.const)}`);

  if (typeof value === "number") {
    if (typeof s.minimum === "number" && value < s.minimum) return at(path, `must be at least ${s.minimum}`);
    if (typeof s.maximum === "number" && value > s.maximum) return at(path, `must be at most ${s.maximum}`);
    if (typeof s.exclusiveMinimum === "number" && value <= s.exclusiveMinimum) return at(path, `must be above ${s.exclusiveMinimum}`);
    if (typeof s.exclusiveMaximum === "number" && value >= s.exclusiveMaximum) return at(path, `must be below ${s.exclusiveMaximum}`);
  }
  if (typeof value === "string") {
    const length = [...value].length;
    if (typeof s.minLength === "number" && length < s.minLength) return at(path, `must have at least ${s.minLength} characters`);
    if (typeof s.maxLength === "number" && length > s.maxLength) return at(path, `must have at most ${s.maxLength} characters`);
    if (typeof s.pattern === "string") {
      try {
        if (!new RegExp(s.pattern, "u").test(value)) return at(path, "does not have the expected form");
      } catch {
        /* a pattern JavaScript cannot read: leave it to the server */
      }
    }
  }
  if (Array.isArray(value)) {
    if (typeof s.minItems === "number" && value.length < s.minItems) return at(path, `needs at least ${s.minItems} item${s.minItems === 1 ? "" : "s"}`);
    if (typeof s.maxItems === "number" && value.length > s.maxItems) return at(path, `allows at most ${s.maxItems} item${s.maxItems === 1 ? "" : "s"}`);
    if (s.uniqueItems === true) {
      const seen = new Set(value.map((v) => JSON.stringify(v)));
      if (seen.size !== value.length) return at(path, "lists an item twice");
    }
    const prefix = Array.isArray(s.prefixItems) ? (s.prefixItems as Schema[]) : [];
    for (let i = 0; i < value.length; i++) {
      const itemSchema = i < prefix.length ? prefix[i] : (s.items as Schema | undefined);
      const problem = checkSchema(value[i], itemSchema, `${path}${path ? "." : ""}${i}`);
      if (problem) return problem;
    }
  }
  if (value && typeof value === "object" && !Array.isArray(value)) {
    const obj = value as Record<string, unknown>;
    for (const key of (s.required as string[] | undefined) ?? []) {
      if (!(key in obj)) return at(path, `needs "${key}"`);
    }
    const props = (s.properties as Record<string, Schema> | undefined) ?? {};
    for (const [key, child] of Object.entries(obj)) {
      const sub = `${path}${path ? "." : ""}${key}`;
      if (key in props) {
        const problem = checkSchema(child, props[key], sub);
        if (problem) return problem;
      } else if (s.additionalProperties !== undefined) {
        const problem = checkSchema(child, s.additionalProperties as Schema, sub);
        if (problem) return s.additionalProperties === false ? at(sub, "is not expected") : problem;
      }
    }
  }
  if (Array.isArray(s.oneOf) || Array.isArray(s.anyOf)) {
    const options = (s.oneOf ?? s.anyOf) as Schema[];
    const problems = options.map((option) => checkSchema(value, option, path));
    if (!problems.some((p) => p === null)) return problems[0] ?? at(path, "is invalid");
  }
  return null;
}

function article(type: string): string {
  const names: Record<string, string> = {
    string: "text",
    number: "a number",
    integer: "a whole number",
    boolean: "true or false",
    array: "a list",
    object: "an object",
    null: "empty",
  };
  return names[type] ?? type;
}
