import { existsSync } from 'node:fs';
import { freePort, waitForServer } from '@grokmap/infra';
import { Client, Connection } from '@temporalio/client';
import type { StartedTestContainer } from 'testcontainers';
import { logger, type TestServer, tempDir } from './harness.js';

/**
 * A Temporal server in a container, through testcontainers: the same
 * `temporal server start-dev` as the embedded server, but started and
 * thrown away by the Docker engine.
 *
 * Image: GROKMAP_TEMPORAL_IMAGE when set; else the locally imported
 * `grokmap/temporal-dev:local` when the engine has it (CI builds it with
 * .ci/docker.sh: nothing can be pulled there); else the official Temporal
 * CLI image, which a machine with internet pulls.
 *
 * Networking: the local image runs with host networking and listens on
 * 127.0.0.1 only (the CI engine has no bridge: `--bridge=none`); any other
 * image runs on the default bridge, listens on 0.0.0.0 inside the
 * container and is reached through its mapped port.
 * GROKMAP_TESTCONTAINERS_NETWORK=host|bridge overrides the choice.
 */

export const LOCAL_TEMPORAL_IMAGE = 'grokmap/temporal-dev:local';
/** The official image of the Temporal CLI (entrypoint `temporal`). */
export const OFFICIAL_TEMPORAL_IMAGE = 'temporalio/temporal:1.5.1';

type Testcontainers = typeof import('testcontainers');

let loaded: Promise<Testcontainers> | undefined;

/** Load testcontainers with the settings an offline engine needs: no Ryuk (its image cannot be pulled). */
function testcontainers(): Promise<Testcontainers> {
  if (!process.env.DOCKER_HOST && !existsSync('/var/run/docker.sock') && existsSync('/run/docker.sock'))
    process.env.DOCKER_HOST = 'unix:///run/docker.sock';
  process.env.TESTCONTAINERS_HOST_OVERRIDE ??= 'localhost';
  loaded ??= import('testcontainers');
  return loaded;
}

export type DockerStatus =
  | { ok: true; image: string; network: 'host' | 'bridge' }
  | { ok: false; reason: string };

/** Whether a Docker engine answers, and which Temporal image and network mode the tests will use. */
export async function dockerStatus(timeoutMs = 15_000): Promise<DockerStatus> {
  try {
    const tc = await testcontainers();
    const client = await Promise.race([
      tc.getContainerRuntimeClient(),
      new Promise<never>((_, reject) =>
        setTimeout(() => reject(new Error(`no answer in ${timeoutMs} ms`)), timeoutMs).unref(),
      ),
    ]);
    const image =
      process.env.GROKMAP_TEMPORAL_IMAGE ??
      ((await client.image.exists(tc.ImageName.fromString(LOCAL_TEMPORAL_IMAGE)))
        ? LOCAL_TEMPORAL_IMAGE
        : OFFICIAL_TEMPORAL_IMAGE);
    const override = process.env.GROKMAP_TESTCONTAINERS_NETWORK;
    const network =
      override === 'host' || override === 'bridge'
        ? override
        : image === LOCAL_TEMPORAL_IMAGE
          ? 'host'
          : 'bridge';
    // The Ryuk reaper is itself an image to pull: off where nothing can be pulled.
    if (image === LOCAL_TEMPORAL_IMAGE) process.env.TESTCONTAINERS_RYUK_DISABLED ??= 'true';
    return { ok: true, image, network };
  } catch (err) {
    return {
      ok: false,
      reason: `no Docker engine reachable (${(err as Error).message.split('\n')[0]}); run .ci/docker.sh or start Docker`,
    };
  }
}

export interface ContainerTestServer extends TestServer {
  container: StartedTestContainer;
  image: string;
}

/** A Temporal dev server in a container, ready to serve the default namespace. */
export async function startContainerTestServer(
  status: Extract<DockerStatus, { ok: true }>,
  home = tempDir('container-server'),
): Promise<ContainerTestServer> {
  const { GenericContainer, Wait } = await testcontainers();
  let container: StartedTestContainer;
  let address: string;
  if (status.network === 'host') {
    const port = await freePort();
    container = await new GenericContainer(status.image)
      .withNetworkMode('host')
      .withCommand(['server', 'start-dev', '--ip', '127.0.0.1', '--port', String(port), '--headless'])
      .withWaitStrategy(Wait.forLogMessage(/Server:/))
      .withStartupTimeout(120_000)
      .start();
    address = `127.0.0.1:${port}`;
  } else {
    container = await new GenericContainer(status.image)
      .withExposedPorts(7233)
      .withCommand(['server', 'start-dev', '--ip', '0.0.0.0', '--headless'])
      .withWaitStrategy(Wait.forListeningPorts())
      .withStartupTimeout(180_000)
      .start();
    address = `${container.getHost()}:${container.getMappedPort(7233)}`;
  }
  try {
    await waitForServer(address, 'default', 120_000);
  } catch (err) {
    await container.stop().catch(() => undefined);
    throw err;
  }
  logger.info({ address, image: status.image, id: container.getId() }, 'temporal server container started');
  const connection = await Connection.connect({ address });
  return {
    address,
    home,
    client: new Client({ connection, namespace: 'default' }),
    container,
    image: status.image,
    async stop() {
      await connection.close();
      await container.stop({ timeout: 10_000 });
    },
  };
}
