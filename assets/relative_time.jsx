// A time shown relative to now ("3 minutes ago"), for lists that show many.
//
// Every instance on the page reads one shared clock that ticks every 30 s, so a list of
// fifty rows costs one timer and one re-render a tick, and a new row renders once, at
// its final text (a timer per row, as react-moment has, costs a timer each and a second
// render when a row appears, in every open tab).
import { useSyncExternalStore } from "react";

const TICK_MS = 30000;
const listeners = new Set();
let tick = 0;
let timer = null;

function subscribe(listener) {
  listeners.add(listener);
  if (timer === null) {
    timer = setInterval(() => {
      tick += 1;
      listeners.forEach((l) => l());
    }, TICK_MS);
  }
  return () => {
    listeners.delete(listener);
    if (listeners.size === 0 && timer !== null) {
      clearInterval(timer);
      timer = null;
    }
  };
}

const snapshot = () => tick;

// The wording of moment's fromNow, which the console showed before.
export function relativeText(then, now) {
  const s = Math.max(0, (now - then) / 1000);
  const m = s / 60, h = m / 60, d = h / 24;
  if (s < 45) return "a few seconds ago";
  if (s < 90) return "a minute ago";
  if (m < 45) return `${Math.round(m)} minutes ago`;
  if (m < 90) return "an hour ago";
  if (h < 22) return `${Math.round(h)} hours ago`;
  if (h < 36) return "a day ago";
  if (d < 26) return `${Math.round(d)} days ago`;
  if (d < 45) return "a month ago";
  if (d < 320) return `${Math.round(d / 30.4)} months ago`;
  if (d < 548) return "a year ago";
  return `${Math.round(d / 365.25)} years ago`;
}

export function RelativeTime({ date, ...props }) {
  useSyncExternalStore(subscribe, snapshot, snapshot);
  const then = Date.parse(date);
  if (Number.isNaN(then)) return null;
  return (
    <time dateTime={date} {...props}>
      {relativeText(then, Date.now())}
    </time>
  );
}

// How long something has been running ("running for 3 minutes"), on the same clock.
export function runningText(then, now) {
  const s = Math.max(0, (now - then) / 1000);
  const m = s / 60, h = m / 60;
  if (s < 45) return "running for a few seconds";
  if (s < 90) return "running for a minute";
  if (m < 45) return `running for ${Math.round(m)} minutes`;
  if (m < 90) return "running for an hour";
  if (h < 36) return `running for ${Math.round(h)} hours`;
  return `running for ${Math.round(h / 24)} days`;
}

export function RunningFor({ since, ...props }) {
  useSyncExternalStore(subscribe, snapshot, snapshot);
  const then = Date.parse(since);
  if (Number.isNaN(then)) return null;
  return <span {...props}>{runningText(then, Date.now())}</span>;
}
