/**
 * Loads the user's app module (`-A ./tasks.ts`, `-A ./dist/tasks.js`, `-A ./tasks.ts:myApp`).
 * TypeScript modules are loaded through tsx, so a project needs no build step to run a worker.
 */
import { existsSync } from 'node:fs'
import { resolve } from 'node:path'
import { pathToFileURL } from 'node:url'
import { createApp, isApp, type App } from '../core/app.js'
import { AppLoadError, ConfigError } from '../core/errors.js'

let tsxRegistered = false

/** Imports a module as `-A` does (TypeScript through tsx); a second import of one file returns the same module. */
export async function importModule(file: string): Promise<Record<string, unknown>> {
  const url = pathToFileURL(file).href
  if (!/\.[cm]?tsx?$/.test(file)) return (await import(url)) as Record<string, unknown>
  if (!tsxRegistered) {
    const { register } = await import('tsx/esm/api')
    register()
    tsxRegistered = true
  }
  try {
    return (await import(url)) as Record<string, unknown>
  } catch (err) {
    // ESM syntax in a .ts file of a CommonJS package (no "type": "module") trips Node's
    // require(esm) cycle check under the global loader; tsImport loads such a file as its
    // package declares it, in a module graph of its own.
    if ((err as { code?: string }).code !== 'ERR_REQUIRE_CYCLE_MODULE') throw err
    const { tsImport } = await import('tsx/esm/api')
    return (await tsImport(url, import.meta.url)) as Record<string, unknown>
  }
}

/**
 * One line for an error raised while loading the user's module: the file, line and column it
 * points at, and its message. The whole stack stays on the error's `cause` (CELERIAC_DEBUG=1).
 */
export function describeLoadError(err: unknown, file: string): string {
  const e = err as { message?: unknown; code?: unknown; stack?: unknown; name?: unknown }
  const message = typeof e?.message === 'string' ? e.message : String(err)
  const transform = /^Transform failed with \d+ errors?:\n(.+?):(\d+):(\d+): ERROR: (.+)$/m.exec(message)
  if (transform) return `${transform[1]}:${transform[2]}:${transform[3]}: ${transform[4]}`
  if (e?.code === 'ERR_UNKNOWN_FILE_EXTENSION') {
    const ext = /"(\.[^"]+)"/.exec(message)?.[1] ?? 'its extension'
    return `${file}: not a JavaScript or TypeScript module (${ext}); -A takes a .ts, .mts, .js or .mjs file`
  }
  const stack = typeof e?.stack === 'string' ? e.stack : ''
  const name = typeof e?.name === 'string' ? e.name : 'Error'
  // A syntax error from Node's own parser names the place on the stack's first line.
  const head = /^(?:file:\/\/)?(\/[^\n]+?):(\d+)\n/.exec(stack)
  if (head) return `${head[1]}:${head[2]}: ${name}: ${message}`
  for (const m of stack.matchAll(/\(?((?:file:\/\/)?\/[^\s()]+?):(\d+):(\d+)\)?$/gm)) {
    const where = m[1]!.replace(/^file:\/\//, '')
    if (where.includes('/node_modules/') || where.startsWith('node:')) continue
    return `${where}:${m[2]}:${m[3]}: ${name}: ${message}`
  }
  return `${file}: ${name}: ${message}`
}

/** Splits `path[:export]`, leaving Windows drive letters alone. */
function splitSpec(spec: string): [string, string | undefined] {
  const i = spec.lastIndexOf(':')
  if (i > 1) return [spec.slice(0, i), spec.slice(i + 1)]
  return [spec, undefined]
}

export async function loadApp(spec: string): Promise<{ app: App; file: string }> {
  const [path, name] = splitSpec(spec)
  const file = resolve(path)
  if (!existsSync(file)) throw new ConfigError(`app module not found: ${file} (from -A ${spec})`)
  let mod: Record<string, unknown>
  try {
    mod = await importModule(file)
  } catch (err) {
    throw new AppLoadError(file, describeLoadError(err, file), { cause: err })
  }
  const candidates = name ? [name] : ['app', 'default', 'celery']
  for (const key of candidates) {
    const v = mod[key]
    if (isApp(v)) return { app: v, file }
  }
  if (!name) {
    const found = Object.values(mod).find(isApp)
    if (found) return { app: found, file }
  }
  throw new ConfigError(
    name
      ? `${file} has no export "${name}" that is a celeriac app`
      : `${file} exports no celeriac app; export one as "app" (export const app = createApp(...)) or name it with -A ${path}:<export>`,
  )
}

export interface AppFlags {
  readonly app?: string
  readonly broker?: string
  readonly resultBackend?: string
}

/**
 * The app for a command: the module given with -A (its broker overridden by -b), or, for
 * operator commands that need no task code, a bare app on -b / $CELERIAC_BROKER.
 */
export async function appFromFlags(flags: AppFlags): Promise<{ app: App; file: string | null }> {
  if (flags.app) {
    const loaded = await loadApp(flags.app)
    loaded.app.configure({ broker: flags.broker, resultBackend: flags.resultBackend })
    return loaded
  }
  return { app: createApp({ broker: flags.broker, resultBackend: flags.resultBackend }), file: null }
}
