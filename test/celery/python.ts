/** What the tests against Python Celery share: the interpreter, and why they would skip. */
import { spawnSync } from 'node:child_process'
import { existsSync } from 'node:fs'

/**
 * The Python that has Debian's python3-celery: /usr/bin/python3 (a `python3` earlier on PATH, such
 * as pyenv's, does not see Debian's packages); $CELERY_PYTHON overrides it.
 */
export const PY =
  process.env.CELERY_PYTHON ?? (existsSync('/usr/bin/python3') ? '/usr/bin/python3' : 'python3')

/** False when `PY` imports these modules, else why the tests cannot run. */
export function celerySkip(modules: readonly string[] = ['celery', 'redis']): string | false {
  const ok = spawnSync(PY, ['-c', `import ${modules.join(', ')}`], { stdio: 'ignore' }).status === 0
  return ok
    ? false
    : `python3-celery is not installed for ${PY} (apt-get install python3-celery python3-redis)`
}

/**
 * Python lines that make a Celery worker app named `name` on $BROKER, results on the URL in the
 * environment variable `results`, JSON only.
 */
export function celeryApp(name: string, results = 'BROKER'): string {
  return `import os
from celery import Celery
app = Celery('${name}', broker=os.environ['BROKER'], backend=os.environ['${results}'])
app.conf.task_serializer = 'json'
app.conf.result_serializer = 'json'
app.conf.accept_content = ['json']`
}
