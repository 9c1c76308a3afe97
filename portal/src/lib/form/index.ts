/**
 * Form values for a step's inputs, by concern: reading props, what widgets keep (values), files,
 * tables, and the conversion to wire values (wire).
 */
export * from "./props";
export * from "./values";
export * from "./files";
export * from "./tables";
export * from "./wire";
