// The API token entry: kept in sessionStorage (this tab only), sent with every change.
import { Badge, Button, Group, Modal, PasswordInput, Stack, Text } from '@mantine/core';
import { useEffect, useState } from 'react';
import { getToken, setToken } from '../api/client';

/** The current token, updated when it is entered or forgotten. */
export function useToken(): string {
  const [token, set] = useState(getToken());
  useEffect(() => {
    const update = () => set(getToken());
    window.addEventListener('netguard-token', update);
    return () => window.removeEventListener('netguard-token', update);
  }, []);
  return token;
}

/** Header button: shows whether changes are possible, opens the token dialog. */
export function TokenButton() {
  const token = useToken();
  const [open, setOpen] = useState(false);
  const [draft, setDraft] = useState('');
  return (
    <>
      <Button
        variant="subtle"
        size="compact-sm"
        onClick={() => {
          setDraft(token);
          setOpen(true);
        }}
        aria-label="API token"
        data-testid="token-button"
      >
        <Group gap={6}>
          Token
          <Badge color={token ? 'green' : 'gray'} variant="light">
            {token ? 'changes enabled' : 'read-only'}
          </Badge>
        </Group>
      </Button>
      <Modal opened={open} onClose={() => setOpen(false)} title="API token">
        <Stack>
          <Text size="sm" c="dimmed">
            Reading needs no token on this machine. Blocking, acknowledging, feedback and reloads need the
            agent&apos;s API token (the file named by http.token_file). It is kept for this browser tab only.
          </Text>
          <PasswordInput
            label="Token"
            value={draft}
            onChange={(e) => setDraft(e.currentTarget.value)}
            data-testid="token-input"
          />
          <Group justify="flex-end">
            <Button
              variant="default"
              onClick={() => {
                setToken('');
                setOpen(false);
              }}
            >
              Forget
            </Button>
            <Button
              onClick={() => {
                setToken(draft.trim());
                setOpen(false);
              }}
              data-testid="token-save"
            >
              Save
            </Button>
          </Group>
        </Stack>
      </Modal>
    </>
  );
}
