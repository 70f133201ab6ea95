/** The registered clients, newest first, each with a Remove button (one confirmation, applied at once). */
import { api, when } from './api.ts';
import type { ClientRow } from './api.ts';
import { Table } from './table.tsx';

export function ClientsCard({
  token,
  clients,
  active,
  guard,
  onRemoved,
}: {
  token: string;
  clients: ClientRow[];
  active: number;
  guard: (work: () => Promise<void>) => Promise<void>;
  onRemoved: (text: string) => Promise<void>;
}) {
  const hosts = clients.map((c) => c.hostname);
  // A button's name is the host; the id is added where two share one.
  const nameOf = (c: ClientRow): string =>
    hosts.filter((h) => h === c.hostname).length > 1
      ? `${c.hostname} (${c.clientId.slice(0, 8)})`
      : c.hostname;
  const remove = (c: ClientRow) =>
    guard(async () => {
      const ok = window.confirm(
        `Remove the client ${nameOf(c)}?\n\nThe server forgets it (id ${c.clientId}); its agent must register again to be managed. This cannot be undone.`,
      );
      if (!ok) return;
      await api(token, 'DELETE', `clients/${encodeURIComponent(c.clientId)}`);
      await onRemoved(`Removed the client ${nameOf(c)}.`);
    });
  return (
    <section class="card" aria-labelledby="clients-title">
      <h2 id="clients-title">Registered clients: {active}</h2>
      <Table
        head={['Host', 'Route', 'Seen as', 'Registered', '']}
        empty="No client has registered yet."
      >
        {clients.map((c) => (
          <tr key={c.clientId}>
            <td>
              {c.hostname}
              {c.supersededBy && <span class="tag">replaced</span>}
            </td>
            <td>{c.route}</td>
            <td>{c.seenAs}</td>
            <td>{when(c.registeredAt)}</td>
            <td>
              <button
                type="button"
                class="danger"
                aria-label={`Remove client '${nameOf(c)}'`}
                onClick={() => void remove(c)}
              >
                Remove
              </button>
            </td>
          </tr>
        ))}
      </Table>
    </section>
  );
}
