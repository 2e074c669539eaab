/**
 * Pan by dragging and zoom with the wheel (around the pointer), for the panels' drawings; a
 * press that does not move is a click, a move without a press a hover.
 */
export interface PanZoomView {
  scale: number;
  tx: number;
  ty: number;
}

export interface PanZoomOptions {
  minScale: number;
  maxScale: number;
  /** The view moved (redraw). */
  moved(): void;
  /** A gesture ended (keep the view). */
  settled(): void;
  hover(clientX: number, clientY: number): void;
  click(clientX: number, clientY: number): void;
  leave(): void;
}

/** Zoom by `factor` keeping the point (cx, cy) of the element where it is. */
export function zoomAround(view: PanZoomView, factor: number, cx: number, cy: number, minScale: number, maxScale: number): void {
  const s = Math.max(minScale, Math.min(maxScale, view.scale * factor));
  const f = s / view.scale;
  view.tx = cx - (cx - view.tx) * f;
  view.ty = cy - (cy - view.ty) * f;
  view.scale = s;
}

export function panZoom(el: Element, view: PanZoomView, o: PanZoomOptions): void {
  let drag: { x: number; y: number; moved: boolean } | undefined;
  el.addEventListener('pointerdown', (ev) => {
    const e = ev as PointerEvent;
    drag = { x: e.clientX, y: e.clientY, moved: false };
    el.setPointerCapture(e.pointerId);
  });
  el.addEventListener('pointermove', (ev) => {
    const e = ev as PointerEvent;
    if (drag) {
      const dx = e.clientX - drag.x;
      const dy = e.clientY - drag.y;
      if (Math.abs(dx) + Math.abs(dy) > 3) drag.moved = true;
      if (drag.moved) {
        view.tx += dx;
        view.ty += dy;
        drag.x = e.clientX;
        drag.y = e.clientY;
        o.leave();
        o.moved();
        return;
      }
    }
    o.hover(e.clientX, e.clientY);
  });
  el.addEventListener('pointerup', (ev) => {
    const e = ev as PointerEvent;
    const d = drag;
    drag = undefined;
    if (d?.moved) o.settled();
    else o.click(e.clientX, e.clientY);
  });
  el.addEventListener('pointerleave', () => o.leave());
  el.addEventListener('wheel', (ev) => {
    const e = ev as WheelEvent;
    e.preventDefault();
    const box = el.getBoundingClientRect();
    zoomAround(view, Math.exp(-e.deltaY * 0.0015), e.clientX - box.left, e.clientY - box.top, o.minScale, o.maxScale);
    o.moved();
    o.settled();
  }, { passive: false });
}
