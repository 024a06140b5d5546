import type { Logger } from 'pino';
import type { ApiKeyStore } from './access/keys.js';
import type { RateLimits } from './access/limits.js';
import { clusterProblems } from './cluster/checks.js';
import { ConfigError } from './config/config.js';
import { changedStartUpSections, type FileConfig, loadConfigFile } from './config/file.js';
import type { ResolvedConfig } from './config/resolve.js';

export interface ConfigReloadOptions {
  readonly config: ResolvedConfig;
  readonly log: Logger;
  readonly keys: ApiKeyStore;
  readonly limits: RateLimits;
  /** Throws a ConfigError for a file whose catalog the next start-up would refuse. */
  readonly checkCatalog: (reloaded: FileConfig) => void;
  /** Says whether the keys left open the service or refuse every call. */
  readonly warnIfOpen: () => void;
}

/**
 * What a SIGHUP does: re-reads the config file's `access` section (API keys and global limits). A
 * file that no longer loads, or that the next start-up would refuse, leaves them as they were.
 */
export function configReloader(options: ConfigReloadOptions): () => void {
  const { config, log, keys, limits } = options;
  return () => {
    if (!config.configFile) {
      // The signal still came: whoever sent it can tell it was received.
      log.info('SIGHUP: no config file to reload (CONFIG_FILE is not set)');
      return;
    }
    try {
      const reloaded = loadConfigFile(config.configFile);
      // Limits several workers cannot share are refused here as they are at start-up.
      const problems = clusterProblems(config, reloaded);
      if (problems.length > 0) throw new ConfigError(problems);
      const sections = changedStartUpSections(config.file, reloaded);
      // A file the next start-up would refuse is not applied in part.
      if (sections.length > 0) options.checkCatalog(reloaded);
      keys.setConfigKeys(reloaded.access.apiKeys);
      limits.setGlobal(reloaded.access.global);
      log.info({ configFile: config.configFile, keys: keys.all().length }, 'API keys reloaded from the config file');
      if (sections.length > 0) {
        log.warn(
          { configFile: config.configFile, sections },
          `config file reloaded for its access section only: changes to ${sections.join(', ')} take a restart`,
        );
      }
      options.warnIfOpen();
    } catch (err) {
      log.error({ err, configFile: config.configFile }, 'config file not reloaded: its API keys stay as they were');
    }
  };
}
