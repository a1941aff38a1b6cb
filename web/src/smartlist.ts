// The Smart List: contacts newest first, searched as the user types, and
// the next page fetched (by its page token) when the end comes into view.
import { displayName, refusal, type Contact, type Contacts } from "./api";
import { avatar } from "./avatar";

const PAGE_SIZE = 50;

export class SmartList {
  private token = "";
  private query = "";
  private loading = false;
  private generation = 0;
  private readonly rows: HTMLUListElement;
  private readonly end: HTMLElement;
  private readonly status: HTMLElement;

  constructor(
    private readonly api: Contacts,
    root: HTMLElement,
    private readonly open: (contact: Contact) => void,
  ) {
    const search = root.querySelector<HTMLInputElement>("#search")!;
    this.rows = root.querySelector<HTMLUListElement>("#rows")!;
    this.end = root.querySelector<HTMLElement>("#list-end")!;
    this.status = root.querySelector<HTMLElement>("#list-status")!;
    let typing: number | undefined;
    search.addEventListener("input", () => {
      clearTimeout(typing);
      typing = window.setTimeout(() => this.reset(search.value.trim()), 250);
    });
    new IntersectionObserver((entries) => {
      if (entries.some((entry) => entry.isIntersecting)) void this.more();
    }).observe(this.end);
  }

  /** Starts over, e.g. for a new query or after a write. */
  reset(query = this.query): Promise<void> {
    this.query = query;
    this.token = "";
    this.generation += 1;
    this.rows.replaceChildren();
    this.end.hidden = false;
    this.loading = false;
    return this.more();
  }

  /** Loads the next page, unless one is loading or the list has ended. */
  async more(): Promise<void> {
    if (this.loading || this.end.hidden) return;
    this.loading = true;
    const generation = this.generation;
    try {
      const page = await this.api.listContacts({ pageSize: PAGE_SIZE, pageToken: this.token, query: this.query });
      if (generation !== this.generation) return;
      for (const contact of page.contacts) this.rows.append(this.row(contact));
      this.token = page.nextPageToken;
      this.end.hidden = !this.token;
      this.status.textContent = this.rows.children.length === 0 ? "No contacts." : "";
    } catch (error) {
      const { reason, message } = refusal(error);
      this.status.textContent = `Cannot list contacts: ${reason} ${message}`;
      this.end.hidden = true;
    } finally {
      if (generation === this.generation) this.loading = false;
    }
    // A short page may leave the end in view: keep filling.
    if (!this.end.hidden && this.end.getBoundingClientRect().top < innerHeight) void this.more();
  }

  /** Shows a contact's new revision in its row, and drops the rows of contacts merged away. */
  update(contact: Contact, gone: string[]): void {
    const rowOf = (id: string) => this.rows.querySelector(`.row[data-id="${CSS.escape(id)}"]`)?.parentElement;
    for (const id of gone) rowOf(id)?.remove();
    rowOf(contact.id)?.replaceWith(this.row(contact));
  }

  private row(contact: Contact): HTMLLIElement {
    const item = document.createElement("li");
    const button = document.createElement("button");
    button.type = "button";
    button.className = "row";
    button.dataset.id = contact.id;
    const text = document.createElement("span");
    text.className = "text";
    const name = document.createElement("strong");
    // Element Timing: when the rows (with their placeholders) were painted,
    // which the browser tests report as the list's first paint.
    name.setAttribute("elementtiming", "smart-list-row");
    name.textContent = displayName(contact);
    const detail = document.createElement("small");
    detail.textContent = [contact.email, contact.companyName].filter(Boolean).join(" · ");
    text.append(name, detail);
    button.append(avatar(contact, 40, 128), text);
    button.addEventListener("click", () => this.open(contact));
    item.append(button);
    return item;
  }
}
