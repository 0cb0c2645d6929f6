// The SOS button: a long press (2 s) raises the alarm, so a pocket or a
// slip of the thumb does not. A ring fills while held; letting go early
// cancels. Keyboard: hold Space or Enter. The position watch starts with
// the press, so a fix is usually there when the alarm goes out.
import { useEffect, useRef, useState } from 'preact/hooks';
import { useSignal } from '../signal';
import { ta } from './i18n';
import { raising, raiseSOS, startWatch, ownAlarm } from './state';

export const HOLD_MS = 2000;

export function SOSButton({ note, compact, onRaised }: { note?: () => string; compact?: boolean; onRaised?: () => void }) {
  const [p, setP] = useState(0); // 0..1 while held
  const start = useRef(0);
  const frame = useRef(0);
  const busy = useSignal(raising);
  const holding = p > 0;

  const stop = () => {
    cancelAnimationFrame(frame.current);
    start.current = 0;
    setP(0);
  };
  const tick = () => {
    if (!start.current) return;
    const x = Math.min(1, (performance.now() - start.current) / HOLD_MS);
    setP(x);
    if (x >= 1) {
      stop();
      raiseSOS(note?.() ?? '').then((v) => { if (v) onRaised?.(); });
      return;
    }
    frame.current = requestAnimationFrame(tick);
  };
  const begin = () => {
    if (start.current || busy) return;
    if (!ownAlarm()) startWatch(); // warm up the position during the hold
    start.current = performance.now();
    frame.current = requestAnimationFrame(tick);
  };
  useEffect(() => () => cancelAnimationFrame(frame.current), []);

  const R = 54, C = 2 * Math.PI * R;
  return (
    <div class={`sos-wrap ${compact ? 'compact' : ''}`}>
      <button
        type="button"
        class={`sos-btn ${holding ? 'holding' : ''}`}
        data-testid="sos-button"
        aria-label={ta('sosHold')}
        aria-describedby={compact ? undefined : 'sos-hint'}
        disabled={busy}
        onPointerDown={(e) => { e.preventDefault(); (e.currentTarget as HTMLElement).setPointerCapture?.(e.pointerId); begin(); }}
        onPointerUp={stop}
        onPointerCancel={stop}
        onLostPointerCapture={() => { if (start.current) stop(); }}
        onContextMenu={(e) => e.preventDefault()}
        onKeyDown={(e) => {
          if ((e.key === ' ' || e.key === 'Enter') && !e.repeat) { e.preventDefault(); begin(); }
          else if (e.key === ' ' || e.key === 'Enter') e.preventDefault();
        }}
        onKeyUp={(e) => { if (e.key === ' ' || e.key === 'Enter') { e.preventDefault(); stop(); } }}
        onBlur={stop}
        onClick={(e) => e.preventDefault()}
      >
        <svg viewBox="0 0 120 120" aria-hidden="true">
          <circle cx="60" cy="60" r={R} class="sos-track" />
          <circle cx="60" cy="60" r={R} class="sos-ring" style={{ strokeDasharray: C, strokeDashoffset: C * (1 - p) }} />
        </svg>
        <span class="sos-label">{busy ? '…' : ta('sos')}</span>
      </button>
      {!compact && <p id="sos-hint" class="muted sos-hint">{ta('sosHoldHint')}</p>}
      <span class="sr-only" role="status" aria-live="assertive">{busy ? ta('sosSending') : holding ? ta('sosHolding') : ''}</span>
    </div>
  );
}
