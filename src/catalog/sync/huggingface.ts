import { z } from 'zod';
import { SyncError } from './errors.js';
import { fetchOptions, fetchText, parseJson, ProxyAgents, type SourceLimits, sourceName, tokenCount } from './fetch-source.js';
import type { CatalogSource, SourceModel } from './types.js';

/**
 * The Hugging Face Hub model API (GET /api/models/{id}) for a configured list of open models, the
 * ones served through OpenAI-compatible servers (vLLM, Ollama): the context window from the model's
 * config, the license, and what its tags say it accepts.
 *
 * `url` is the API root; a model's address is `<url>/<id>`. With a `file:` URL the same layout is
 * read from disk as `<dir>/<org>/<name>.json`, or, when the URL names a `.json` file, that file holds
 * an array of model documents.
 */
export const HUGGINGFACE_MODELS_URL = 'https://huggingface.co/api/models';

const count = tokenCount.positive().nullish();
const configSchema = z.looseObject({
  max_position_embeddings: count,
  n_positions: count,
  max_sequence_length: count,
  seq_length: count,
  model_max_length: count,
  text_config: z.looseObject({ max_position_embeddings: count }).nullish(),
});

const modelSchema = z.looseObject({
  id: sourceName,
  tags: z.array(z.string()).default([]),
  pipeline_tag: z.string().nullish(),
  config: configSchema.nullish(),
  cardData: z.looseObject({ license: z.union([z.string(), z.array(z.string())]).nullish() }).nullish(),
  gguf: z.looseObject({ context_length: count }).nullish(),
});

export type HubModel = z.infer<typeof modelSchema>;

export interface HuggingFaceSourceOptions extends SourceLimits {
  readonly url?: string;
  /** Hub ids ("meta-llama/Llama-3.1-8B-Instruct"). */
  readonly models: readonly string[];
  /** A Hub token, for gated models. */
  readonly token?: string;
}

const IMAGE_PIPELINES = new Set(['image-text-to-text', 'visual-question-answering', 'image-to-text']);
const TOOL_TAGS = new Set(['function-calling', 'tool-use', 'tool-calling', 'tools']);

export function createHuggingFaceSource(options: HuggingFaceSourceOptions): CatalogSource {
  const base = (options.url ?? HUGGINGFACE_MODELS_URL).replace(/\/+$/, '');
  const headers = options.token ? { authorization: `Bearer ${options.token}` } : undefined;
  return {
    name: 'huggingface',
    async load(signal, notes) {
      if (base.startsWith('file:') && /\.json$/i.test(base)) {
        const all = parseJson(
          await fetchText(base, fetchOptions(options, signal, headers)),
          z.array(modelSchema),
          'Hugging Face models file',
        );
        const wanted = new Set(options.models.map((m) => m.toLowerCase()));
        const found = all.filter((m) => wanted.has(m.id.toLowerCase()));
        if (found.length === 0) throw new SyncError('http', 'Hugging Face: none of the configured models is in the models file');
        // A listed model the file no longer holds is gone from this copy of the Hub: skipped, as a 404 is.
        const held = new Set(found.map((m) => m.id.toLowerCase()));
        for (const id of options.models.filter((m) => !held.has(m.toLowerCase()))) {
          const message = `Hugging Face model ${id} skipped: not in ${base}`;
          if (notes?.skip) notes.skip(id, message);
          else notes?.warn(message);
        }
        return found.map(normaliseHubModel);
      }
      const models: SourceModel[] = [];
      const fetching = { ...fetchOptions(options, signal, headers), agents: new ProxyAgents() };
      try {
        for (const id of options.models) {
          const url = base.startsWith('file:') ? `${base}/${id}.json` : `${base}/${id.split('/').map(encodeURIComponent).join('/')}`;
          try {
            models.push(normaliseHubModel(parseJson(await fetchText(url, fetching), modelSchema, `Hugging Face model ${id}`)));
          } catch (err) {
            // A model that is gone, renamed or gated is one model's problem, not the whole run's.
            if (err instanceof SyncError && /HTTP (401|403|404)\b|ENOENT/.test(err.message) && options.models.length > 1) {
              const message = `Hugging Face model ${id} skipped: ${err.message}`;
              if (notes?.skip) notes.skip(id, message);
              else notes?.warn(message);
              continue;
            }
            throw err;
          }
        }
      } finally {
        fetching.agents.close();
      }
      if (models.length === 0 && options.models.length > 0)
        throw new SyncError('http', 'Hugging Face: none of the configured models could be read');
      return models;
    },
  };
}

export function normaliseHubModel(model: HubModel): SourceModel {
  const c = model.config;
  const context =
    c?.max_position_embeddings ??
    c?.text_config?.max_position_embeddings ??
    c?.n_positions ??
    c?.max_sequence_length ??
    c?.seq_length ??
    model.gguf?.context_length ??
    c?.model_max_length ??
    undefined;
  const license = licenseOf(model);
  const tags = new Set(model.tags.map((t) => t.toLowerCase()));
  const images = IMAGE_PIPELINES.has(model.pipeline_tag ?? '') || tags.has('vision') || tags.has('image-text-to-text');
  const tools = [...TOOL_TAGS].some((t) => tags.has(t));
  return {
    source: 'huggingface',
    externalId: model.id,
    ...(context ? { contextWindow: context } : {}),
    ...(license ? { license } : {}),
    // The Hub cannot say whether the serving engine offers a JSON Schema mode, so that one is left unsaid.
    capabilities: { tools, images },
    raw: model,
  };
}

function licenseOf(model: HubModel): string | undefined {
  const card = model.cardData?.license;
  if (typeof card === 'string' && card) return card;
  if (Array.isArray(card) && card[0]) return card[0];
  return model.tags.find((t) => t.startsWith('license:'))?.slice('license:'.length);
}
