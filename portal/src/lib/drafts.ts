/**
 * Form drafts kept in sessionStorage, so a user sent to /login (expired session) finds the
 * values entered before when coming back. Pages register a saver while mounted.
 */
const PREFIX = "feather:draft:";
const savers = new Set<() => void>();

export function registerDraftSaver(save: () => void): () => void {
  savers.add(save);
  return () => savers.delete(save);
}

/** Ask every mounted page to write its draft now. */
export function saveAllDrafts(): void {
  for (const save of [...savers]) {
    try {
      save();
    } catch {
      /* a draft is a convenience: never let it break the redirect */
    }
  }
}

export function storeDraft(key: string, data: unknown): void {
  try {
    sessionStorage.setItem(PREFIX + key, JSON.stringify(data));
  } catch {
    /* storage full or disabled */
  }
}

/** Read a draft (it stays until `forgetDraft`), so a first render can start from it. */
export function peekDraft<T>(key: string): T | null {
  try {
    const text = sessionStorage.getItem(PREFIX + key);
    return text === null ? null : (JSON.parse(text) as T);
  } catch {
    return null;
  }
}

export function forgetDraft(key: string): void {
  try {
    sessionStorage.removeItem(PREFIX + key);
  } catch {
    /* storage disabled */
  }
}
