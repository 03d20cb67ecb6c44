// The app shell: header (agent, token, wall mode), navigation, the pages.
import { AppShell, Badge, Burger, Group, NavLink, Switch, Text, Title } from '@mantine/core';
import { useDisclosure, useLocalStorage } from '@mantine/hooks';
import { useEffect } from 'react';
import { Link, Navigate, Route, Routes, useLocation } from 'react-router-dom';
import type { AgentStatus } from './api/types';
import { TokenButton, useToken } from './components/TokenButton';
import { usePoll } from './lib/hooks';
import { AlertsPage } from './pages/Alerts';
import { BlocksPage } from './pages/Blocks';
import { ForensicsPage } from './pages/Forensics';
import { LivePage } from './pages/Live';
import { MapPage } from './pages/Map';
import { ModelsPage } from './pages/Models';

const PAGES = [
  { path: '/live', label: 'Live' },
  { path: '/alerts', label: 'Alerts' },
  { path: '/forensics', label: 'Forensics' },
  { path: '/blocks', label: 'Blocks' },
  { path: '/models', label: 'Models' },
  { path: '/map', label: 'Map' },
];

/** The dashboard. */
export function App() {
  const [opened, { toggle, close }] = useDisclosure();
  const [wall, setWall] = useLocalStorage({ key: 'netguard.wall', defaultValue: false });
  const location = useLocation();
  const status = usePoll<AgentStatus>('GetStatus', {}, 5000);
  const token = useToken();

  // A kiosk opens /live?wall=1 (or wall=0 to leave the mode).
  useEffect(() => {
    const asked = new URLSearchParams(location.search).get('wall');
    if (asked !== null) setWall(asked !== '0');
  }, [location.search, setWall]);
  // Wall display: everything larger, no navigation column.
  useEffect(() => {
    document.documentElement.style.setProperty('--mantine-scale', wall ? '1.35' : '1');
  }, [wall]);

  return (
    <AppShell
      header={{ height: 56 }}
      navbar={{ width: 200, breakpoint: 'sm', collapsed: { mobile: !opened, desktop: wall } }}
      padding="md"
    >
      <AppShell.Header>
        <Group h="100%" px="md" justify="space-between" wrap="nowrap">
          <Group gap="sm" wrap="nowrap">
            <Burger opened={opened} onClick={toggle} hiddenFrom="sm" size="sm" />
            <Title order={3}>NetGuard</Title>
            {status.data ? (
              <Badge color={status.data.coverageDegraded ? 'orange' : 'green'} variant="light">
                agent {status.data.version}
                {status.data.coverageDegraded ? ' · coverage degraded' : ''}
              </Badge>
            ) : (
              <Badge color={status.error ? 'red' : 'gray'} variant="light">
                {status.error ? 'agent unreachable' : 'connecting'}
              </Badge>
            )}
          </Group>
          <Group gap="sm" wrap="nowrap">
            <Switch
              label="Wall"
              checked={wall}
              onChange={(e) => setWall(e.currentTarget.checked)}
              size="sm"
            />
            <TokenButton />
          </Group>
        </Group>
      </AppShell.Header>
      <AppShell.Navbar p="xs">
        {PAGES.map((p) => (
          <NavLink
            key={p.path}
            component={Link}
            to={p.path}
            label={p.label}
            active={location.pathname.startsWith(p.path)}
            onClick={close}
          />
        ))}
        <Text size="xs" c="dimmed" mt="auto" p="xs">
          {wall
            ? 'Wall mode: toggle it off to navigate.'
            : token
              ? 'Changes enabled with your token.'
              : 'Read-only without a token.'}
        </Text>
      </AppShell.Navbar>
      <AppShell.Main>
        {wall && (
          <Group mb="sm" gap="xs">
            {PAGES.map((p) => (
              <NavLink
                key={p.path}
                component={Link}
                to={p.path}
                label={p.label}
                active={location.pathname.startsWith(p.path)}
                w="auto"
              />
            ))}
          </Group>
        )}
        <Routes>
          <Route path="/" element={<Navigate to="/live" replace />} />
          <Route path="/live" element={<LivePage />} />
          <Route path="/alerts" element={<AlertsPage />} />
          <Route path="/forensics" element={<ForensicsPage />} />
          <Route path="/forensics/:ip" element={<ForensicsPage />} />
          <Route path="/blocks" element={<BlocksPage />} />
          <Route path="/models" element={<ModelsPage />} />
          <Route path="/map" element={<MapPage />} />
          <Route path="*" element={<Navigate to="/live" replace />} />
        </Routes>
      </AppShell.Main>
    </AppShell>
  );
}
