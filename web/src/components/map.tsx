import { t } from '../i18n';

// OfflineMap draws a position on a metric grid: no tiles, no network. The
// grid spacing adapts to the accuracy so the circle stays readable; north is
// up, and a scale bar gives distances.
export function OfflineMap({ lat, lon, accuracy, trail, live }: {
  lat: number; lon: number; accuracy: number;
  trail?: { lat: number; lon: number }[]; live?: boolean;
}) {
  const W = 280, H = 180;
  const acc = Math.max(5, accuracy || 0);
  // metres per pixel: fit the accuracy circle (and the trail) into the view
  let span = acc * 3;
  const mPerDegLat = 111320;
  const mPerDegLon = 111320 * Math.cos((lat * Math.PI) / 180);
  for (const p of trail ?? []) {
    span = Math.max(span, Math.abs(p.lat - lat) * mPerDegLat * 2.4, Math.abs(p.lon - lon) * mPerDegLon * 2.4 * (H / W));
  }
  const mpp = Math.max(span / H, 0.2);
  const steps = [10, 20, 50, 100, 200, 500, 1000, 2000, 5000, 10000];
  const grid = steps.find((s) => s / mpp >= 40) ?? 10000;
  const gp = grid / mpp;
  const cx = W / 2, cy = H / 2;
  const lines = [];
  for (let x = cx % gp; x < W; x += gp) lines.push(<line x1={x} y1={0} x2={x} y2={H} />);
  for (let y = cy % gp; y < H; y += gp) lines.push(<line x1={0} y1={y} x2={W} y2={y} />);
  const pts = (trail ?? []).map((p) => [cx + ((p.lon - lon) * mPerDegLon) / mpp, cy - ((p.lat - lat) * mPerDegLat) / mpp]);
  const label = t('mapLabel', { lat: lat.toFixed(5), lon: lon.toFixed(5), m: Math.round(accuracy) });
  return (
    <figure class="map">
      <svg viewBox={`0 0 ${W} ${H}`} role="img" aria-label={label} data-testid="offline-map">
        <rect width={W} height={H} class="map-bg" />
        <g class="map-grid">{lines}</g>
        {pts.length > 1 && <polyline class="map-trail" points={pts.map((p) => p.join(',')).join(' ')} />}
        <circle cx={cx} cy={cy} r={Math.max(acc / mpp, 4)} class="map-acc" />
        <circle cx={cx} cy={cy} r={6} class={live ? 'map-pos live' : 'map-pos'} />
        <text x={W - 8} y={16} text-anchor="end" class="map-n">N ↑</text>
        <line x1={8} y1={H - 10} x2={8 + gp} y2={H - 10} class="map-scale" />
        <text x={8} y={H - 14} class="map-scale-t">{grid >= 1000 ? `${grid / 1000} km` : `${grid} m`}</text>
      </svg>
      <figcaption>
        <span class="coords">{lat.toFixed(5)}, {lon.toFixed(5)}</span> · {t('accuracy', { m: Math.round(accuracy) })}
        {' · '}<a href={`geo:${lat},${lon}`}>{t('openMap')}</a>
      </figcaption>
    </figure>
  );
}
