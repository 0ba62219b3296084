// Notices as the browser's own notifications too (the Notification API), when the person
// asked for them on this browser (the profile page's toggle, kept in localStorage) and
// the browser granted it: each notice new to this tab is shown as a system notification
// while the tab is hidden (a visible tab shows its toast). The notice's key is the
// notification's tag, so the same end told to several hidden tabs is one notification.
import { useEffect, useState } from "react";

const KEY = "jobdeck.browserNotices";
const seen = new Set();

const supported = () => typeof window !== "undefined" && "Notification" in window;
const wanted = () => supported() && window.localStorage.getItem(KEY) === "on";

export function BrowserNotifier({ notices }) {
  useEffect(() => {
    for (const n of notices || []) {
      if (seen.has(n.key)) continue;
      seen.add(n.key);
      if (!wanted() || Notification.permission !== "granted" || !document.hidden) continue;
      const shown = new Notification("Jobdeck", { body: n.text, tag: n.key });
      shown.onclick = () => {
        window.focus();
        window.location.assign(n.href);
        shown.close();
      };
    }
  }, [notices]);
  return null;
}

function stateNow() {
  if (!supported()) return "unsupported";
  if (Notification.permission === "denied") return "denied";
  return wanted() && Notification.permission === "granted" ? "on" : "off";
}

export function BrowserNoticesToggle(props) {
  const [state, setState] = useState("off");
  useEffect(() => setState(stateNow()), []);
  const change = async (event) => {
    if (!event.target.checked) {
      window.localStorage.setItem(KEY, "off");
      setState(stateNow());
      return;
    }
    const permission = Notification.permission === "granted" ? "granted" : await Notification.requestPermission();
    window.localStorage.setItem(KEY, permission === "granted" ? "on" : "off");
    setState(stateNow());
  };
  const hint = {
    unsupported: "This browser cannot show notifications.",
    denied: "This browser blocks notifications from Jobdeck: allow them in its site settings, then turn this on.",
    on: "On for this browser: a notice also shows as a system notification while this tab is hidden.",
    off: "Off for this browser. Turning it on asks the browser for permission.",
  }[state];
  return (
    <div className="browser-notices" data-state={state} {...props}>
      <label style={{ display: "flex", gap: "0.5em", alignItems: "center", cursor: "pointer" }}>
        <input type="checkbox" className="browser-notices-toggle" checked={state === "on"}
               disabled={state === "unsupported" || state === "denied"} onChange={change} />
        <span>Also show notices as browser notifications when this tab is hidden</span>
      </label>
      <p className="browser-notices-hint" style={{ margin: "0.25em 0 0 1.75em", color: "var(--gray-11)",
                                                   fontSize: "var(--font-size-1)" }}>{hint}</p>
    </div>
  );
}
