/**
 * The entry point (`npm start`, `node dist/main.js`, every cluster worker): it loads the program
 * only after startup-signals.ts listens for SIGHUP, so that a SIGHUP while the program loads and
 * starts is kept for when it serves instead of ending the process (serve.ts runs it).
 */
import './startup-signals.js';

await import('./serve.js');
