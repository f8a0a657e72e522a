/**
 * What ships in deploy/ is checked here, since this machine has no container engine or cluster:
 * every kustomize overlay renders, and the rendered objects hang together (selectors, probe
 * ports, grace periods above the worker's --grace, the autoscaler's target and URL, secrets);
 * the Dockerfile passes a linter; the compose files name commands and files that exist.
 */
import assert from 'node:assert/strict'
import { execFileSync, spawnSync } from 'node:child_process'
import { existsSync, readdirSync, readFileSync } from 'node:fs'
import { join } from 'node:path'
import { describe, it } from 'node:test'
import { parse, parseAllDocuments } from 'yaml'
import { ROOT } from '../e2e/helpers.js'

const DEPLOY = join(ROOT, 'deploy')
// eslint-disable-next-line @typescript-eslint/no-explicit-any
type K8s = Record<string, any>

function kubectl(): string {
  const found = spawnSync('kubectl', ['version', '--client'], { encoding: 'utf8' })
  if (found.error)
    throw new Error('kubectl is not installed: .ci/run installs it (apt-get install kubernetes-client)')
  return 'kubectl'
}

function render(overlay: string): K8s[] {
  const text = execFileSync(kubectl(), ['kustomize', join(DEPLOY, 'k8s/overlays', overlay)], {
    encoding: 'utf8',
  })
  return parseAllDocuments(text).map((d) => d.toJSON() as K8s)
}

/** The worker's --grace in seconds, from its command line. */
function graceSeconds(args: string[]): number {
  const arg = args.find((a) => a.startsWith('--grace='))
  assert.ok(arg, 'the worker sets --grace')
  const m = /^--grace=(\d+)s$/.exec(arg)
  assert.ok(m, `--grace in seconds: ${arg}`)
  return Number(m[1])
}

describe('Kubernetes manifests', () => {
  const overlays = readdirSync(join(DEPLOY, 'k8s/overlays'))

  it('has an overlay per broker', () => {
    assert.deepEqual(overlays.sort(), ['postgres', 'redis'])
  })

  for (const overlay of overlays) {
    it(`overlay ${overlay} renders objects that hang together`, () => {
      const objects = render(overlay)
      const of = (kind: string) => objects.filter((o) => o.kind === kind)
      for (const o of objects) {
        assert.ok(
          o.apiVersion && o.kind && o.metadata?.name,
          `an object with apiVersion, kind, name: ${JSON.stringify(o).slice(0, 80)}`,
        )
      }
      const deployments = new Map(of('Deployment').map((d) => [d.metadata.name as string, d]))
      assert.deepEqual([...deployments.keys()].sort(), ['api', 'beat', 'dashboard', 'exporter', 'worker'])
      const secrets = new Set(of('Secret').map((s) => s.metadata.name as string))

      for (const d of deployments.values()) {
        const labels = d.spec.template.metadata.labels
        for (const [k, v] of Object.entries(d.spec.selector.matchLabels))
          assert.equal(labels[k], v, `${d.metadata.name}: the selector matches the pod labels`)
        const pod = d.spec.template.spec
        assert.equal(pod.securityContext?.runAsNonRoot, true, `${d.metadata.name} runs as non-root`)
        for (const c of pod.containers) {
          const ports = new Set((c.ports ?? []).map((p: K8s) => p.name))
          // Beat serves no port: the process being alive is its health, and a second replica
          // takes over within the lock's TTL.
          for (const probe of d.metadata.name === 'beat' ? [] : ['readinessProbe', 'livenessProbe']) {
            assert.ok(c[probe], `${d.metadata.name}/${c.name} has a ${probe}`)
            assert.ok(ports.has(c[probe].httpGet.port), `${d.metadata.name}: ${probe} names a declared port`)
          }
          for (const ref of c.envFrom ?? [])
            assert.ok(
              secrets.has(ref.secretRef.name),
              `${d.metadata.name}: secret ${ref.secretRef.name} is generated`,
            )
          assert.ok(c.resources?.limits?.memory, `${d.metadata.name} has a memory limit`)
        }
      }

      const worker = deployments.get('worker')!.spec.template.spec
      const container = worker.containers[0]
      const args: string[] = container.command
      assert.deepEqual(args.slice(0, 4), ['celeriac', '-A', 'examples/users-api/tasks.ts', 'worker'])
      assert.ok(existsSync(join(ROOT, 'examples/users-api/tasks.ts')))
      assert.ok(
        worker.terminationGracePeriodSeconds > graceSeconds(args),
        `terminationGracePeriodSeconds ${worker.terminationGracePeriodSeconds} above --grace`,
      )
      assert.ok(args.includes('--health-port=8081'))
      assert.equal(container.livenessProbe.httpGet.path, '/livez')
      assert.equal(container.readinessProbe.httpGet.path, '/readyz')

      const beat = deployments.get('beat')!
      assert.ok(beat.spec.replicas >= 2, 'two beats, one leading')
      assert.deepEqual(beat.spec.template.spec.containers[0].command.slice(3), ['beat'])

      const [pdb] = of('PodDisruptionBudget').filter((p) => p.metadata.name === 'worker')
      assert.ok(pdb, 'the workers have a PodDisruptionBudget')
      assert.deepEqual(pdb.spec.selector.matchLabels, deployments.get('worker')!.spec.selector.matchLabels)

      const [scaled] = of('ScaledObject')
      assert.ok(scaled, 'a KEDA ScaledObject scales the workers')
      assert.equal(scaled.spec.scaleTargetRef.name, 'worker')
      const trigger = scaled.spec.triggers[0]
      assert.equal(trigger.type, 'metrics-api')
      const url = new URL(trigger.metadata.url)
      const svc = of('Service').find((s) => s.metadata.name === url.hostname)
      assert.ok(svc, `the trigger's host ${url.hostname} is a Service`)
      assert.ok(
        svc.spec.ports.some((p: K8s) => String(p.port) === url.port),
        'on a port the Service exposes',
      )
      assert.equal(url.pathname, '/queues')
      assert.equal(trigger.metadata.valueLocation, 'total.waiting')
    })
  }
})

describe('Dockerfile', () => {
  it('passes the linter', () => {
    const r = spawnSync(
      process.execPath,
      [join(ROOT, 'node_modules/dockerfile-utils/bin/dockerfile-utils'), 'lint', join(DEPLOY, 'Dockerfile')],
      { encoding: 'utf8' },
    )
    assert.equal(r.status, 0, r.stdout + r.stderr)
  })

  it('runs as a non-root user behind an init that forwards signals, with a health check', () => {
    const text = readFileSync(join(DEPLOY, 'Dockerfile'), 'utf8')
    assert.match(text, /^USER node$/m)
    assert.match(text, /^ENTRYPOINT \["\/usr\/bin\/tini", "--"\]$/m)
    assert.match(text, /^HEALTHCHECK /m)
    assert.equal((text.match(/^FROM /gm) ?? []).length, 2, 'multi-stage')
    for (const m of text.matchAll(/^COPY (?!--from)(\S+)/gm))
      if (!m[1]!.startsWith('--')) assert.ok(existsSync(join(ROOT, m[1]!)), `COPY ${m[1]} exists`)
  })
})

describe('compose files', () => {
  const base = parse(readFileSync(join(DEPLOY, 'compose.yaml'), 'utf8'), { merge: true }) as K8s

  it('runs each role from files that exist, the workers with a stop grace above --grace', () => {
    assert.deepEqual(Object.keys(base.services).sort(), [
      'api',
      'beat',
      'dashboard',
      'exporter',
      'redis',
      'smtp',
      'worker',
    ])
    for (const [name, svc] of Object.entries<K8s>(base.services)) {
      if (name === 'redis') continue
      const files = (svc.command as string[]).filter((a) => a.startsWith('examples/'))
      assert.ok(files.length > 0, `${name} runs an example file`)
      for (const f of files) assert.ok(existsSync(join(ROOT, f)), `${name}: ${f} exists`)
      assert.equal(svc.environment.CELERIAC_BROKER, 'redis://redis:6379/0')
    }
    const w = base.services.worker
    const grace = Number(/^(\d+)s$/.exec(w.command[w.command.indexOf('--grace') + 1])![1])
    assert.ok(Number(/^(\d+)s$/.exec(w.stop_grace_period)![1]) > grace)
  })

  for (const variant of ['postgres', 'rabbitmq']) {
    it(`the ${variant} variant points every role at its broker`, () => {
      const v = parse(readFileSync(join(DEPLOY, `compose.${variant}.yaml`), 'utf8'), { merge: true }) as K8s
      for (const role of ['api', 'worker', 'beat', 'dashboard', 'exporter'])
        assert.match(
          v.services[role].environment.CELERIAC_BROKER,
          variant === 'postgres' ? /^postgres:/ : /^amqp:/,
        )
      assert.ok(v.services[variant], `a ${variant} service`)
    })
  }
})
