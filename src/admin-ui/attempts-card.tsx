/** The latest registration attempts, each reason in plain words (the code in its title). */
import { reasonText, when } from './api.ts';
import type { AuditRow } from './api.ts';
import { Table } from './table.tsx';

const SUCCESS = new Set(['registered', 're-registered', 'verified']);

export function AttemptsCard({ attempts }: { attempts: AuditRow[] }) {
  return (
    <section class="card" aria-labelledby="attempts-title">
      <h2 id="attempts-title">Latest registration attempts</h2>
      <Table
        head={['Time', 'Route', 'Source', 'Outcome', 'Reason', 'Times']}
        empty="No attempt yet."
      >
        {attempts.map((a) => (
          <tr key={a.id} class={SUCCESS.has(a.outcome) ? undefined : 'failed'}>
            <td>{when(a.time)}</td>
            <td>{a.route ?? ''}</td>
            <td>{a.source ?? ''}</td>
            <td>{a.outcome.replace(/_/g, ' ')}</td>
            <td title={a.reason ?? ''}>{reasonText(a.reason)}</td>
            <td>{a.count > 1 ? `${a.count}×` : ''}</td>
          </tr>
        ))}
      </Table>
    </section>
  );
}
