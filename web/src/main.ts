// The console's entry: who we are (tenant and key from the URL fragment,
// which browsers never send to the server, or from a small form), then the
// Smart List, the conversations column and the contact panel.
import { contactsClient, type Contact, type Credentials } from "./api";
import { showConversations } from "./conversations";
import { createForm } from "./forms";
import { Panel } from "./panel";
import { SmartList } from "./smartlist";

const STORAGE_KEY = "accommador-console";

function credentials(): Credentials | undefined {
  const fragment = new URLSearchParams(location.hash.slice(1));
  const tenant = fragment.get("tenant");
  if (tenant) {
    const given = { tenant, key: fragment.get("key") ?? "" };
    sessionStorage.setItem(STORAGE_KEY, JSON.stringify(given));
    // The key leaves the address bar (and so the history and screenshots).
    if (given.key) {
      fragment.delete("key");
      history.replaceState(null, "", `#${fragment.toString()}`);
    }
    return given;
  }
  const stored = sessionStorage.getItem(STORAGE_KEY);
  return stored ? (JSON.parse(stored) as Credentials) : undefined;
}

function askForCredentials(): void {
  const form = document.querySelector<HTMLFormElement>("#sign-in")!;
  form.hidden = false;
  form.addEventListener("submit", (event) => {
    event.preventDefault();
    const tenant = (form.elements.namedItem("tenant") as HTMLInputElement).value.trim();
    const key = (form.elements.namedItem("key") as HTMLInputElement).value.trim();
    sessionStorage.setItem(STORAGE_KEY, JSON.stringify({ tenant, key }));
    location.hash = `tenant=${encodeURIComponent(tenant)}`;
    location.reload();
  });
}

async function start(): Promise<void> {
  const given = credentials();
  if (!given) return askForCredentials();
  document.querySelector("#tenant")!.textContent = given.tenant;
  document.querySelector<HTMLElement>("#app")!.hidden = false;
  const api = contactsClient(given);
  const conversationsList = document.querySelector<HTMLElement>("#conversations")!;
  const fragmentIds = new URLSearchParams(location.hash.slice(1)).get("conversations");
  let refreshConversations = async () => {};
  const refresh = () => {
    void list.reset();
    void refreshConversations();
  };
  // A write in the panel changes one contact (and merges another away): its
  // row changes in place, so the list keeps its pages and scroll position.
  const changed = (contact: Contact, gone: string[]) => {
    list.update(contact, gone);
    void refreshConversations();
  };
  const panel = new Panel(api, document.querySelector<HTMLElement>("#panel")!, changed);
  const open = (contact: Contact) => void panel.open(contact);
  const list = new SmartList(api, document.querySelector<HTMLElement>("#smart-list")!, open);
  refreshConversations = async () => {
    let ids = fragmentIds ? fragmentIds.split(",").filter(Boolean) : [];
    if (ids.length === 0) {
      const firstPage = await api.listContacts({ pageSize: 10, pageToken: "", query: "" });
      ids = firstPage.contacts.map((contact) => contact.id);
    }
    await showConversations(api, conversationsList, ids, open);
  };
  createForm(api, document.querySelector<HTMLFormElement>("#create")!, refresh);
  await Promise.all([list.reset(""), refreshConversations()]);
  document.body.dataset.ready = "true";
}

void start();
