// Map: arcs between the countries of public addresses (offline: world-atlas shapes, the agent's
// GeoIP database through LookupCountries); private ranges are the "local" marker.
import { Badge, Group, Paper, Stack, Table, Text } from '@mantine/core';
import { geoCentroid, geoNaturalEarth1, geoPath } from 'd3-geo';
import countries from 'i18n-iso-countries';
import english from 'i18n-iso-countries/langs/en.json';
import { useEffect, useMemo, useState } from 'react';
import { feature } from 'topojson-client';
import type { GeometryCollection, Topology } from 'topojson-specification';
import world from 'world-atlas/countries-110m.json';
import { call } from '../api/client';
import type { ListAlertsResponse, ListFlowsResponse, LookupCountriesResponse } from '../api/types';
import { EmptyState, ErrorState, Loading } from '../components/States';
import { addressesOf, arcsOf, placesOf, type Arc } from '../lib/geo';

countries.registerLocale(english);

const WIDTH = 960;
const HEIGHT = 500;
const LOCAL: [number, number] = [-150, -45]; // where the "local networks" marker sits (lon, lat)

const topology = world as unknown as Topology<{ countries: GeometryCollection }>;
const shapes = feature(topology, topology.objects.countries);
const projection = geoNaturalEarth1().fitSize([WIDTH, HEIGHT], shapes);
const path = geoPath(projection);
const centroids = new Map(shapes.features.map((f) => [String(f.id), geoCentroid(f)]));

/** The map position of a place, undefined when it has none (unknown). */
function position(place: string): [number, number] | undefined {
  if (place === 'local') return LOCAL;
  const numeric = countries.alpha2ToNumeric(place);
  return numeric ? centroids.get(numeric) : undefined;
}

interface Loaded {
  arcs: Arc[];
  database: string;
  databaseError: string;
}

async function load(): Promise<Loaded> {
  const [flows, alerts] = await Promise.all([
    call<ListFlowsResponse>('ListFlows', { pageSize: 1000 }),
    call<ListAlertsResponse>('ListAlerts', { pageSize: 500 }),
  ]);
  const addresses = addressesOf(flows.flows ?? [], alerts.alerts ?? []);
  const looked = await call<LookupCountriesResponse>('LookupCountries', { addresses });
  return {
    arcs: arcsOf(flows.flows ?? [], alerts.alerts ?? [], placesOf(looked.countries ?? [])),
    database: looked.database,
    databaseError: looked.databaseError ?? '',
  };
}

/** The Map page. */
export function MapPage() {
  const [data, setData] = useState<Loaded>();
  const [error, setError] = useState<unknown>();
  useEffect(() => {
    let cancelled = false;
    const run = () =>
      load()
        .then((d) => !cancelled && (setData(d), setError(undefined)))
        .catch((e) => !cancelled && setError(e));
    void run();
    const t = setInterval(run, 15000);
    return () => {
      cancelled = true;
      clearInterval(t);
    };
  }, []);
  const names = useMemo(() => {
    const n = new Map<string, string>();
    for (const a of data?.arcs ?? [])
      for (const p of [a.from, a.to])
        n.set(p, p === 'local' || p === 'unknown' ? p : (countries.getName(p, 'en') ?? p));
    return n;
  }, [data]);
  if (error && !data) return <ErrorState error={error} what="The map" />;
  if (!data) return <Loading what="flows and countries" />;
  const drawable = data.arcs.filter((a) => position(a.from) && position(a.to) && a.from !== a.to);
  const max = Math.max(1, ...drawable.map((a) => a.flows + a.alerts));
  return (
    <Stack data-testid="map-page">
      <Paper withBorder p="xs">
        <svg
          viewBox={`0 0 ${WIDTH} ${HEIGHT}`}
          width="100%"
          role="img"
          aria-label="world map of traffic"
          data-testid="world-map"
        >
          <path d={path({ type: 'Sphere' }) ?? ''} fill="#1a1b1e" />
          {/* Index keys: the shapes never change, and a few (Kosovo, N. Cyprus) have no id. */}
          {shapes.features.map((f, i) => (
            <path key={i} d={path(f) ?? ''} fill="#2c2e33" stroke="#5c5f66" strokeWidth={0.4} />
          ))}
          {drawable.map((a) => {
            const d = path({ type: 'LineString', coordinates: [position(a.from)!, position(a.to)!] });
            return (
              <path
                key={`${a.from}>${a.to}`}
                d={d ?? ''}
                fill="none"
                stroke={a.alerts > 0 ? '#fa5252' : '#4dabf7'}
                strokeWidth={1 + 4 * ((a.flows + a.alerts) / max)}
                strokeOpacity={0.8}
                data-testid="arc"
              >
                <title>{`${names.get(a.from)} → ${names.get(a.to)}: ${a.flows} flows, ${a.alerts} alerts`}</title>
              </path>
            );
          })}
          {(() => {
            const [x, y] = projection(LOCAL) ?? [0, 0];
            return (
              <g>
                <circle cx={x} cy={y} r={6} fill="#40c057" />
                <text x={x + 10} y={y + 4} fill="#c1c2c5" fontSize={13}>
                  local networks
                </text>
              </g>
            );
          })()}
        </svg>
        <Group gap="xs" mt="xs">
          <Badge color="blue" variant="light">
            flows
          </Badge>
          <Badge color="red" variant="light">
            with alerts
          </Badge>
          <Text size="xs" c="dimmed" data-testid="geoip-database">
            GeoIP:{' '}
            {data.database || 'no database opened: countries unknown (set geoip.mmdb or geoip.database)'}
          </Text>
        </Group>
        {data.databaseError && (
          <Text size="xs" c="orange" data-testid="geoip-error">
            GeoIP problem: {data.databaseError}
          </Text>
        )}
      </Paper>
      <Paper withBorder p="sm">
        {data.arcs.length === 0 ? (
          <EmptyState title="No traffic stored yet">
            Arcs appear once flows finish. Private addresses are shown as local networks.
          </EmptyState>
        ) : (
          <Table fz="sm" data-testid="country-pairs">
            <Table.Thead>
              <Table.Tr>
                <Table.Th>From</Table.Th>
                <Table.Th>To</Table.Th>
                <Table.Th>Flows</Table.Th>
                <Table.Th>Alerts</Table.Th>
              </Table.Tr>
            </Table.Thead>
            <Table.Tbody>
              {data.arcs.slice(0, 30).map((a) => (
                <Table.Tr key={`${a.from}>${a.to}`}>
                  <Table.Td>{names.get(a.from)}</Table.Td>
                  <Table.Td>{names.get(a.to)}</Table.Td>
                  <Table.Td>{a.flows}</Table.Td>
                  <Table.Td>{a.alerts}</Table.Td>
                </Table.Tr>
              ))}
            </Table.Tbody>
          </Table>
        )}
        <Text size="xs" c="dimmed" mt="xs">
          The newest 1000 stored flows and 500 alerts; refreshed every 15 s.
        </Text>
      </Paper>
    </Stack>
  );
}
