// Inline SVG icons (drawn for Wache; no icon font, nothing loaded from the net).
const paths: Record<string, string> = {
  shield: 'M12 2 4 5v6c0 5 3.4 9.4 8 11 4.6-1.6 8-6 8-11V5z',
  chat: 'M4 4h16v12H8l-4 4z',
  plus: 'M11 5h2v6h6v2h-6v6h-2v-6H5v-2h6z',
  device: 'M7 2h10a1 1 0 0 1 1 1v18a1 1 0 0 1-1 1H7a1 1 0 0 1-1-1V3a1 1 0 0 1 1-1zm1 3v13h8V5zm4 14.5a1 1 0 1 0 0 .01z',
  gear: 'M12 8a4 4 0 1 0 0 8 4 4 0 0 0 0-8zm8.9 5.5-1.9-.3a7 7 0 0 1-.8 1.9l1.1 1.6-1.4 1.4-1.6-1.1a7 7 0 0 1-1.9.8l-.3 1.9h-2l-.3-1.9a7 7 0 0 1-1.9-.8l-1.6 1.1-1.4-1.4 1.1-1.6a7 7 0 0 1-.8-1.9L3.1 13.5v-2l1.9-.3a7 7 0 0 1 .8-1.9L4.7 7.7l1.4-1.4 1.6 1.1a7 7 0 0 1 1.9-.8l.3-1.9h2l.3 1.9a7 7 0 0 1 1.9.8l1.6-1.1 1.4 1.4-1.1 1.6a7 7 0 0 1 .8 1.9l1.9.3z',
  back: 'M15.4 5.4 14 4l-8 8 8 8 1.4-1.4L8.8 12z',
  send: 'M3 20 21 12 3 4v6l12 2-12 2z',
  clip: 'M16.5 6v11.5a4.5 4.5 0 0 1-9 0V5a3 3 0 0 1 6 0v11.5a1.5 1.5 0 0 1-3 0V6H9v10.5a3 3 0 0 0 6 0V5a4.5 4.5 0 0 0-9 0v12.5a6 6 0 0 0 12 0V6z',
  camera: 'M9 3 7.2 5H4a2 2 0 0 0-2 2v11a2 2 0 0 0 2 2h16a2 2 0 0 0 2-2V7a2 2 0 0 0-2-2h-3.2L15 3zm3 5a5 5 0 1 1 0 10 5 5 0 0 1 0-10z',
  image: 'M3 4h18v16H3zm2 2v10l4-4 3 3 4-5 3 4V6z',
  video: 'M3 6h12v12H3zm13 4 5-3v10l-5-3z',
  doc: 'M6 2h8l6 6v14H6zm7 1.5V9h5.5z',
  mic: 'M12 14a3 3 0 0 0 3-3V5a3 3 0 0 0-6 0v6a3 3 0 0 0 3 3zm5-3a5 5 0 0 1-10 0H5a7 7 0 0 0 6 6.9V21h2v-3.1A7 7 0 0 0 19 11z',
  pin: 'M12 2a7 7 0 0 0-7 7c0 5 7 13 7 13s7-8 7-13a7 7 0 0 0-7-7zm0 9.5a2.5 2.5 0 1 1 0-5 2.5 2.5 0 0 1 0 5z',
  live: 'M12 9a3 3 0 1 0 0 6 3 3 0 0 0 0-6zm-6.4-3.4 1.4 1.4a7 7 0 0 0 0 10L5.6 18.4a9 9 0 0 1 0-12.8zm12.8 0a9 9 0 0 1 0 12.8L17 17a7 7 0 0 0 0-10z',
  reply: 'M10 9V5l-7 7 7 7v-4.1c5 0 8.5 1.6 11 5.1-1-5-4-10-11-11z',
  close: 'M19 6.4 17.6 5 12 10.6 6.4 5 5 6.4 10.6 12 5 17.6 6.4 19 12 13.4 17.6 19 19 17.6 13.4 12z',
  people: 'M9 11a4 4 0 1 0 0-8 4 4 0 0 0 0 8zm7 0a3 3 0 1 0 0-6 3 3 0 0 0 0 6zM1 20c0-3.3 3.6-6 8-6s8 2.7 8 6zm17 0c0-1.8-.8-3.4-2.1-4.6 3.4.2 7.1 1.9 7.1 4.6z',
  lock: 'M6 10V8a6 6 0 0 1 12 0v2h1v12H5V10zm2 0h8V8a4 4 0 0 0-8 0z',
  stop: 'M6 6h12v12H6z',
  clock: 'M12 2a10 10 0 1 0 0 20 10 10 0 0 0 0-20zm1 5v5.4l3.5 2.1-.8 1.3L11 13V7z',
  check: 'M9 16.2 4.8 12l-1.4 1.4L9 19 21 7l-1.4-1.4z',
  check2: 'M1 13.4 2.4 12l4.6 4.6L18.6 5 20 6.4 7 19.4zm9.6 3.2L23 4.2l-1.4-1.4-12.4 12.4z',
  alert: 'M1 21h22L12 2zm12-3h-2v-2h2zm0-4h-2v-4h2z',
  search: 'M10 3a7 7 0 0 1 5.6 11.2l5.1 5.1-1.4 1.4-5.1-5.1A7 7 0 1 1 10 3zm0 2a5 5 0 1 0 0 10 5 5 0 0 0 0-10z',
};

export function Icon({ name, label }: { name: string; label?: string }) {
  return (
    <svg class="icon" viewBox="0 0 24 24" width="24" height="24" role={label ? 'img' : undefined}
      aria-hidden={label ? undefined : 'true'} aria-label={label} focusable="false">
      <path d={paths[name] ?? paths.alert} fill="currentColor" />
    </svg>
  );
}
