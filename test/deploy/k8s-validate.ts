// Validates Kubernetes manifests against Kubernetes' own OpenAPI schemas, with the
// kubernetes-models package (its models carry the upstream schemas and check objects
// with ajv), so a wrong field type or a missing required field fails the test.
import YAML from 'yaml';

const MODELS: Record<string, string> = {
  'apps/v1/StatefulSet': 'kubernetes-models/apps/v1/StatefulSet',
  'v1/Service': 'kubernetes-models/v1/Service',
  'v1/Secret': 'kubernetes-models/v1/Secret',
  'v1/Namespace': 'kubernetes-models/v1/Namespace',
  'policy/v1/PodDisruptionBudget': 'kubernetes-models/policy/v1/PodDisruptionBudget',
};

/** Validates every document; returns the kinds seen, in order. Throws on the first invalid one. */
export async function validateManifests(yamlText: string): Promise<string[]> {
  const kinds: string[] = [];
  for (const d of YAML.parseAllDocuments(yamlText)) {
    const obj = d.toJS() as Record<string, unknown> | null;
    if (!obj) continue;
    const key = `${obj['apiVersion']}/${obj['kind']}`;
    const mod = MODELS[key];
    if (!mod) throw new Error(`no schema for ${key}`);
    const exported = (await import(mod)) as Record<string, new (o: unknown) => { validate(): void }>;
    const Model = exported[String(obj['kind'])]!;
    try {
      new Model(obj).validate();
    } catch (err) {
      throw new Error(`${key} ${(obj['metadata'] as { name?: string })?.name}: ${(err as Error).message}`);
    }
    kinds.push(String(obj['kind']));
  }
  return kinds;
}
