// On-device media preparation: photos are scaled down with a canvas before
// they are encrypted and sent (less data on mobile links), and a small
// thumbnail (a data URL of at most 16 KB) travels inside the encrypted
// message so the receiver sees a preview without a download.

export const MAX_FILE_BYTES = 100 * 1024 * 1024;
const THUMB_MAX_BYTES = 16 * 1024;

async function decode(blob: Blob): Promise<CanvasImageSource & { width: number; height: number }> {
  if ('createImageBitmap' in window) {
    try {
      return await createImageBitmap(blob, { imageOrientation: 'from-image' } as ImageBitmapOptions);
    } catch {
      /* fall back to an <img> below */
    }
  }
  const url = URL.createObjectURL(blob);
  try {
    const img = new Image();
    img.src = url;
    await img.decode();
    return img;
  } finally {
    URL.revokeObjectURL(url);
  }
}

function draw(src: CanvasImageSource & { width: number; height: number }, max: number): HTMLCanvasElement {
  const scale = Math.min(1, max / Math.max(src.width, src.height));
  const c = document.createElement('canvas');
  c.width = Math.max(1, Math.round(src.width * scale));
  c.height = Math.max(1, Math.round(src.height * scale));
  const ctx = c.getContext('2d')!;
  ctx.drawImage(src, 0, 0, c.width, c.height);
  return c;
}

function toBlob(c: HTMLCanvasElement, type: string, q: number): Promise<Blob> {
  return new Promise((resolve, reject) => c.toBlob((b) => (b ? resolve(b) : reject(new Error('encode failed'))), type, q));
}

function thumbFrom(src: CanvasImageSource & { width: number; height: number }): string {
  for (const [size, q] of [[160, 0.6], [120, 0.5], [80, 0.4], [48, 0.3]] as const) {
    const url = draw(src, size).toDataURL('image/jpeg', q);
    if (url.length <= THUMB_MAX_BYTES) return url;
  }
  return '';
}

export interface Prepared {
  name: string;
  mime: string;
  data: Uint8Array;
  thumbnail?: string;
}

// preparePhoto scales a photo to at most 1600 px on the long side as JPEG.
export async function preparePhoto(file: File): Promise<Prepared> {
  const img = await decode(file);
  const canvas = draw(img, 1600);
  const blob = await toBlob(canvas, 'image/jpeg', 0.82);
  const name = file.name.replace(/\.[^.]*$/, '') + '.jpg';
  return { name: name || 'foto.jpg', mime: 'image/jpeg', data: new Uint8Array(await blob.arrayBuffer()), thumbnail: thumbFrom(img) };
}

// videoThumbnail grabs an early frame of a video (best effort).
export async function videoThumbnail(file: Blob): Promise<string | undefined> {
  const url = URL.createObjectURL(file);
  try {
    const v = document.createElement('video');
    v.muted = true;
    v.preload = 'metadata';
    v.src = url;
    await new Promise<void>((resolve, reject) => {
      v.onloadeddata = () => resolve();
      v.onerror = () => reject(new Error('video'));
      setTimeout(() => reject(new Error('timeout')), 5000);
    });
    v.currentTime = Math.min(0.5, (v.duration || 1) / 2);
    await new Promise<void>((resolve) => { v.onseeked = () => resolve(); setTimeout(resolve, 1500); });
    const src = Object.assign(v, { width: v.videoWidth, height: v.videoHeight });
    return thumbFrom(src) || undefined;
  } catch {
    return undefined;
  } finally {
    URL.revokeObjectURL(url);
  }
}

export async function prepareFile(file: File): Promise<Prepared> {
  if (file.size > MAX_FILE_BYTES) throw Object.assign(new Error('too large'), { code: 'ETOOLARGE' });
  const data = new Uint8Array(await file.arrayBuffer());
  const mime = file.type || 'application/octet-stream';
  const thumbnail = mime.startsWith('video/') ? await videoThumbnail(file) : undefined;
  return { name: file.name || 'datei', mime, data, thumbnail };
}

// Recorder wraps MediaRecorder for voice messages.
export class Recorder {
  private rec?: MediaRecorder;
  private chunks: Blob[] = [];
  private stream?: MediaStream;
  started = 0;

  async start() {
    this.stream = await navigator.mediaDevices.getUserMedia({ audio: true });
    const types = ['audio/webm;codecs=opus', 'audio/ogg;codecs=opus', 'audio/mp4', 'audio/webm'];
    const mimeType = types.find((x) => MediaRecorder.isTypeSupported?.(x));
    this.rec = new MediaRecorder(this.stream, mimeType ? { mimeType } : undefined);
    this.chunks = [];
    this.rec.ondataavailable = (e) => e.data.size && this.chunks.push(e.data);
    this.rec.start(250);
    this.started = Date.now();
  }

  stop(): Promise<Prepared | null> {
    return new Promise((resolve) => {
      const r = this.rec;
      if (!r) return resolve(null);
      r.onstop = async () => {
        this.stream?.getTracks().forEach((t) => t.stop());
        const type = (r.mimeType || 'audio/webm').split(';')[0];
        const blob = new Blob(this.chunks, { type });
        const ext = type.includes('mp4') ? 'm4a' : type.includes('ogg') ? 'ogg' : 'webm';
        const stamp = new Date().toISOString().slice(0, 19).replace(/[:T]/g, '-');
        resolve({ name: `sprachnachricht-${stamp}.${ext}`, mime: type, data: new Uint8Array(await blob.arrayBuffer()) });
      };
      r.stop();
    });
  }

  cancel() {
    if (this.rec && this.rec.state !== 'inactive') {
      this.rec.onstop = () => this.stream?.getTracks().forEach((t) => t.stop());
      this.rec.stop();
    }
  }
}

export function getPosition(): Promise<{ lat: number; lon: number; accuracy_m: number }> {
  return new Promise((resolve, reject) => {
    if (!navigator.geolocation) return reject(new Error('no geolocation'));
    navigator.geolocation.getCurrentPosition(
      (p) => resolve({ lat: p.coords.latitude, lon: p.coords.longitude, accuracy_m: Math.round(p.coords.accuracy) }),
      (e) => reject(new Error(e.message)),
      { enableHighAccuracy: true, timeout: 15000, maximumAge: 10000 },
    );
  });
}
