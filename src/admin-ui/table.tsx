import type { ComponentChildren } from 'preact';

/** A table with a header row, or a line of text when it has no rows. */
export function Table({
  head,
  empty,
  children,
}: {
  head: string[];
  empty: string;
  children: ComponentChildren;
}) {
  const rows = Array.isArray(children)
    ? children.flat().filter(Boolean)
    : children
      ? [children]
      : [];
  if (rows.length === 0) return <p class="muted">{empty}</p>;
  return (
    <div class="scroll">
      <table>
        <thead>
          <tr>
            {head.map((h, i) => (
              <th key={i} scope="col">
                {h}
              </th>
            ))}
          </tr>
        </thead>
        <tbody>{children}</tbody>
      </table>
    </div>
  );
}
