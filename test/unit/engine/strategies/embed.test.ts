import { describe, expect, it } from 'vitest';
import { Catalog } from '../../../../src/catalog/catalog.js';
import { BUILTIN_MODELS } from '../../../../src/catalog/models.js';
import { EmbeddingCatalog } from '../../../../src/catalog/embedding-models.js';
import { OrchestratorError } from '../../../../src/domain/errors.js';
import { MAX_EMBED_INPUTS, resolveEmbedModel } from '../../../../src/engine/strategies/embed.js';

const deps = {
  embeddings: new EmbeddingCatalog({ providers: new Map([['openai', 'openai']]) }),
  chatCatalog: new Catalog({ models: BUILTIN_MODELS, providers: new Map([['openai', 'openai']]) }),
};

function violations(req: { model?: string; inputs: string[]; dimensions?: number }): string[] {
  try {
    resolveEmbedModel(deps, { model: req.model ?? '', inputs: req.inputs, dimensions: req.dimensions });
  } catch (err) {
    expect(err).toBeInstanceOf(OrchestratorError);
    return (err as OrchestratorError).fieldViolations.map((v) => v.field);
  }
  throw new Error('expected a refusal');
}

describe('resolveEmbedModel', () => {
  it('defaults to text-embedding-3-small and finds models by id', () => {
    expect(resolveEmbedModel(deps, { model: '', inputs: ['x'] }).id).toBe('text-embedding-3-small');
    const large = resolveEmbedModel(deps, { model: 'TEXT-EMBEDDING-3-LARGE', inputs: ['x'], dimensions: 256 });
    expect(large).toMatchObject({ id: 'text-embedding-3-large', dimensions: 3072, inputPricePerMillion: 0.13 });
  });

  it('names the fields at fault', () => {
    expect(violations({ inputs: [] })).toEqual(['inputs']);
    expect(violations({ inputs: ['ok', ''] })).toEqual(['inputs[1]']);
    expect(violations({ inputs: Array.from({ length: MAX_EMBED_INPUTS + 1 }, () => 'x') })).toEqual(['inputs']);
    expect(violations({ inputs: ['x'], dimensions: 1537 })).toEqual(['dimensions']);
    expect(violations({ inputs: ['x'], dimensions: -1 })).toEqual(['dimensions']);
    expect(violations({ model: 'text-embedding-ada-002', inputs: ['x'], dimensions: 512 })).toEqual(['dimensions']);
  });

  it('refuses a chat model, and chat never sees embedding models', () => {
    expect(violations({ model: 'gpt-4o', inputs: ['x'] })).toEqual(['model']);
    expect(deps.chatCatalog.find('text-embedding-3-small')).toBeUndefined();
  });
});
