/**
 * The one naming style of test and benchmark fixtures (namespaces, bridges, FRR pathspaces):
 * `<suite><pid in base 36><tag>`, unique per process and short, since interface names built from it
 * must stay within 15 characters. `suite` starts with `ot` and names the owner (`otc…` traffic, `otd`
 * BGP, `otf-…` reference implementation), so a leftover says which tests left it.
 */
export function fixturePrefix(suite: string, tag = ''): string {
  return `${suite}${process.pid.toString(36)}${tag}`;
}
