import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';

/**
 * buf.yaml excepts FILE_SAME_GO_PACKAGE (go_package was introduced after the first protos), so
 * this pins it instead: Go programs import the generated package by this path, and moving it
 * breaks every one of them.
 */
const GO_PACKAGE = 'github.com/llm-orchestrator/llm-orchestrator/clients/go/orchestrator/v1;orchestratorv1';
const DIR = 'proto/orchestrator/v1';

describe('the go_package option of our protos', () => {
  const files = readdirSync(DIR).filter((f) => f.endsWith('.proto'));

  it.each(files)('%s names the Go client package', (file) => {
    const options = [...readFileSync(join(DIR, file), 'utf8').matchAll(/^option go_package = "([^"]*)";$/gm)];
    expect(options.map((m) => m[1])).toEqual([GO_PACKAGE]);
  });

  it('covers every file the Go client package is generated from', () => {
    const generated = readdirSync('clients/go/orchestrator/v1').filter((f) => f.endsWith('.pb.go') && !f.endsWith('_grpc.pb.go'));
    expect(generated.map((f) => f.replace(/\.pb\.go$/, '.proto')).sort()).toEqual([...files].sort());
  });
});
