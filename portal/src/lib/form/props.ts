/** Reading an input's props: its options, its table columns, a number setting. */
import type { Props } from "../../manifest";

export function options(props: Props): Array<string | number> {
  return Array.isArray(props.options) ? (props.options as Array<string | number>) : [];
}

export function tableColumns(props: Props): { names: string[] | null; types: Record<string, string> | null } {
  const columns = props.columns;
  if (Array.isArray(columns)) return { names: columns.map(String), types: null };
  if (columns && typeof columns === "object") {
    return { names: Object.keys(columns), types: columns as Record<string, string> };
  }
  return { names: null, types: null };
}

export function num(props: Props, key: string): number | undefined {
  const value = props[key];
  return typeof value === "number" ? value : undefined;
}
