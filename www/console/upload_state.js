// A capture's upload state in words, from its record (GET /captures, POST /captures) and the
// upload queue (GET /system/telemetry's `uploads`): uploaded with its link, queued (waiting,
// or retrying after a failure, with the queue's last error), or kept on the device.

import { h, safeHref } from '../dom.js';

/** { key, label, chip, url, reason, settled } */
export function uploadState(capture, uploads) {
  if (capture.status === 'uploaded') {
    return { key: 'uploaded', label: 'Uploaded', chip: 'chip-ok', url: capture.image_url ? safeHref(capture.image_url) : null, reason: '', settled: true };
  }
  if (uploads && uploads.sink === null) {
    return { key: 'local', label: 'Kept on this camera', chip: 'chip-ready', url: null, reason: '', settled: true };
  }
  const failing = uploads && uploads.last_error && (uploads.sink_down
    || !uploads.last_success_at || uploads.last_error_at > uploads.last_success_at);
  if (failing) {
    const next = uploads.next_retry_at ? ` Next try ${new Date(uploads.next_retry_at).toLocaleTimeString()}.` : '';
    return { key: 'failed', label: 'Upload failed, will retry', chip: 'chip-bad', url: null, reason: `${uploads.last_error}.${next}`, settled: false };
  }
  return { key: 'queued', label: 'Queued for upload', chip: 'chip-ready', url: null, reason: '', settled: false };
}

export function stateChip(state) {
  return h('span', { class: `chip ${state.chip}`, 'data-upload-state': state.key }, state.label);
}
