/**
 * The admin page: Settings > Client Authorization. Talks only to the admin
 * API of the server that serves it, with the admin token from the sign-in
 * link's fragment or the sign-in form, kept for this tab only.
 */
import { render } from 'preact';
import { useEffect, useState } from 'preact/hooks';
import { TOKEN_KEY, readInitialToken } from './api.ts';
import { ClientAuthorization } from './client-authorization.tsx';

function App() {
  const [token, setToken] = useState<string | null>(readInitialToken);
  const [notice, setNotice] = useState<string | null>(null);
  useEffect(() => {
    // A sign-in link opened in a tab that already shows the page.
    const onHash = (): void => {
      const t = readInitialToken();
      if (t) setToken(t);
    };
    window.addEventListener('hashchange', onHash);
    return () => window.removeEventListener('hashchange', onHash);
  }, []);
  const signOut = (why: string | null): void => {
    sessionStorage.removeItem(TOKEN_KEY);
    setToken(null);
    setNotice(why);
  };
  if (!token)
    return (
      <SignIn
        notice={notice}
        onToken={(t) => (sessionStorage.setItem(TOKEN_KEY, t), setToken(t), setNotice(null))}
      />
    );
  return <ClientAuthorization token={token} onSignOut={signOut} />;
}

function SignIn({ notice, onToken }: { notice: string | null; onToken: (token: string) => void }) {
  const [value, setValue] = useState('');
  return (
    <main class="page narrow">
      <h1>bootstrap-server</h1>
      <form
        class="card"
        onSubmit={(e) => {
          e.preventDefault();
          if (value.trim()) onToken(value.trim());
        }}
      >
        <h2>Sign in</h2>
        <p>
          Use the link that <code>bootstrap-server admin-url</code> prints, or paste the admin
          token.
        </p>
        {notice && (
          <p class="error" role="alert">
            {notice}
          </p>
        )}
        <label for="token">Admin token</label>
        <input
          id="token"
          type="password"
          autocomplete="off"
          value={value}
          onInput={(e) => setValue(e.currentTarget.value)}
        />
        <div class="actions">
          <button type="submit" class="primary">
            Sign in
          </button>
        </div>
      </form>
    </main>
  );
}

const root = document.getElementById('app');
if (root) {
  root.textContent = '';
  render(<App />, root);
}
