/** Asks before the tab closes or navigates away while `active` (unsaved edits, an uncopied generated secret). */
import { useEffect } from 'preact/hooks';

export function useLeaveGuard(active: boolean): void {
  useEffect(() => {
    if (!active) return undefined;
    const onLeave = (e: BeforeUnloadEvent): void => {
      e.preventDefault();
      // Older browsers show the prompt only when returnValue is set.
      e.returnValue = '';
    };
    window.addEventListener('beforeunload', onLeave);
    return () => window.removeEventListener('beforeunload', onLeave);
  }, [active]);
}
