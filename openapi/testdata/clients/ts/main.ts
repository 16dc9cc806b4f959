// What an integrator writes against a TypeScript client generated from
// openapi/openapi.yaml with openapi-typescript's default settings and
// openapi-fetch (scripts/check-clients generates schema.d.ts next to a copy
// of this file and type-checks it with tsc --strict; it is not run).
import createClient from "openapi-fetch";
import type { components, paths } from "./schema";

type Item = components["schemas"]["CreateAccountItem"];
type Outcome = components["schemas"]["Outcome"];

export async function tour(base: string, token: string): Promise<string> {
  const client = createClient<paths>({ baseUrl: base, headers: { Authorization: `Bearer ${token}` } });

  // Optional fields (unallocated among them) may be left out.
  const named: Item = { currency: "USD", accountHolderName: "Jane Smith", accountName: "Jane Smith", clientReference: "REF-1" };
  const spare: Item = { currency: "USD", unallocated: true };
  const created = await client.POST("/v1/virtual-accounts", {
    params: { header: { Prefer: "wait=10" } },
    body: { items: [named, spare] },
  });
  if (created.error) {
    // A problem: code, and every bad field.
    const bad = (created.error.errors ?? []).map((f) => `${f.pointer}: ${f.detail}`);
    throw new Error(`${created.error.code}: ${bad.join("; ")}`);
  }
  // jobId is in either answer, 200 (finished while waiting) or 202.
  const jobId: string = created.data.jobId;
  const resultUrl: string = created.data.resultUrl;

  const results = await client.GET("/v1/jobs/{id}/results", { params: { path: { id: jobId } } });
  if (results.error) {
    throw new Error(results.error.code);
  }
  // Typed as JobResults, not JobResults | string.
  const done: Outcome[] = results.data.items.map((it) => it.outcome);
  const accounts = results.data.items.flatMap((it) => (it.account ? [it.account.id] : []));

  const csv = await client.GET("/v1/jobs/{id}/results.csv", { params: { path: { id: jobId } }, parseAs: "text" });
  const text: string = csv.data ?? "";
  return [resultUrl, done.join(","), accounts.join(","), text].join("\n");
}
