// Photo → luminance bytes for the recogniser in the wasm. The browser
// decodes (createImageBitmap applies the EXIF orientation) and scales on
// its own fast paths; the Go side gets one byte per pixel and carries no
// JPEG decoder. Nothing here leaves the page or is stored.
import type { GrayImage } from './api';

// MaxSide bounds the long side handed to the recogniser: the pipeline is
// tuned and measured on 1600×1200 photos (internal/scan/ocr accuracy
// tests); 2000 keeps small zones readable and a 12 MP photo at a third of
// its pixels.
export const MaxSide = 2000;

export async function grayFromFile(file: Blob, maxSide = MaxSide): Promise<GrayImage & { srcWidth: number; srcHeight: number }> {
  const bmp = await createImageBitmap(file);
  try {
    const s = Math.min(1, maxSide / Math.max(bmp.width, bmp.height));
    const width = Math.max(1, Math.round(bmp.width * s));
    const height = Math.max(1, Math.round(bmp.height * s));
    const canvas = typeof OffscreenCanvas !== 'undefined' ? new OffscreenCanvas(width, height) : Object.assign(document.createElement('canvas'), { width, height });
    const ctx = canvas.getContext('2d', { willReadFrequently: true }) as CanvasRenderingContext2D | OffscreenCanvasRenderingContext2D | null;
    if (!ctx) throw new Error('no 2D canvas');
    ctx.imageSmoothingEnabled = true;
    ctx.imageSmoothingQuality = 'high';
    ctx.drawImage(bmp, 0, 0, width, height);
    const rgba = ctx.getImageData(0, 0, width, height).data;
    const pixels = new Uint8Array(width * height);
    // BT.601 luma in fixed point, as JPEG's Y channel.
    for (let i = 0, j = 0; i < pixels.length; i++, j += 4) pixels[i] = (rgba[j] * 77 + rgba[j + 1] * 150 + rgba[j + 2] * 29) >> 8;
    return { width, height, pixels, srcWidth: bmp.width, srcHeight: bmp.height };
  } finally {
    bmp.close();
  }
}

// nextPaint resolves after the browser painted (so a progress indicator
// shows before the recogniser takes the page's thread).
export function nextPaint(): Promise<void> {
  return new Promise((r) => requestAnimationFrame(() => setTimeout(r, 0)));
}

// reveal scrolls the app's content pane so el sits just under the sticky
// title bar (scrollIntoView would also move the document on some phones).
export function reveal(el: HTMLElement | null) {
  const pane = el?.closest('.detail-pane') as HTMLElement | null;
  if (!el || !pane) return;
  const bar = pane.querySelector('.bar')?.getBoundingClientRect().height ?? 0;
  pane.scrollTop += el.getBoundingClientRect().top - pane.getBoundingClientRect().top - bar - 8;
}
