// The contact panel beside a conversation: the 512 px picture, the fields,
// the revision history and merged contacts; giving the contact a new picture
// and merging the duplicates FindDuplicateContacts finds.
import { displayName, refusal, type Contact, type Contacts } from "./api";
import { avatar } from "./avatar";
import { showRefusal } from "./forms";
import { checkPicture } from "./pictures";

export class Panel {
  private current?: Contact;
  private opener?: HTMLElement;

  constructor(
    private readonly api: Contacts,
    private readonly root: HTMLElement,
    /** Called with a contact's new revision and the ids a write merged away. */
    private readonly changed: (contact: Contact, gone: string[]) => void,
  ) {
    root.querySelector("#panel-close")!.addEventListener("click", () => this.close());
    document.addEventListener("keydown", (event) => {
      if (event.key === "Escape" && !root.hidden) this.close();
    });
    const replace = root.querySelector<HTMLInputElement>("#replace-picture")!;
    replace.addEventListener("change", () => void this.replacePicture(replace));
    root.querySelector("#find-duplicates")!.addEventListener("click", () => void this.findDuplicates());
  }

  async open(contact: Contact): Promise<void> {
    this.opener = document.activeElement instanceof HTMLElement ? document.activeElement : undefined;
    this.root.hidden = false;
    await this.show(contact);
    this.root.querySelector<HTMLElement>("#panel-close")!.focus();
  }

  close(): void {
    this.root.hidden = true;
    // A write may have redrawn the row the panel was opened from: back to
    // the contact's new row then.
    const shown = this.current && document.querySelector<HTMLElement>(`.row[data-id="${CSS.escape(this.current.id)}"]`);
    this.current = undefined;
    (this.opener?.isConnected ? this.opener : shown)?.focus();
  }

  private async show(contact: Contact): Promise<void> {
    this.current = contact;
    const field = (selector: string) => this.root.querySelector<HTMLElement>(selector)!;
    field("#panel-title").textContent = displayName(contact);
    field("#panel-picture").replaceChildren(avatar(contact, 256, 512));
    const facts: [string, string][] = [
      ["First name", contact.firstName],
      ["Last name", contact.lastName],
      ["Email", [contact.email, ...contact.additionalEmails].filter(Boolean).join(", ")],
      ["Phone", [contact.phone, ...contact.additionalPhones].filter(Boolean).join(", ")],
      ["Company", contact.companyName],
      ["Tags", contact.tags.join(", ")],
      ["Merged contacts", contact.mergedContactIds.join(", ")],
      ["Id", contact.id],
    ];
    const list = field("#panel-fields");
    list.replaceChildren();
    for (const [name, value] of facts.filter(([, value]) => value)) {
      const term = document.createElement("dt");
      term.textContent = name;
      const description = document.createElement("dd");
      description.textContent = value;
      list.append(term, description);
    }
    field("#panel-error").textContent = "";
    field("#duplicates").replaceChildren();
    await this.history(contact);
  }

  /** The latest 20 revisions, newest first, read at once (one GetContact each). */
  private async history(contact: Contact): Promise<void> {
    const list = this.root.querySelector<HTMLElement>("#panel-history")!;
    list.replaceChildren();
    const latest = Number(contact.revision);
    const revisions = Array.from({ length: Math.min(latest, 20) }, (_, n) => latest - n);
    const items = await Promise.all(
      revisions.map(async (revision) => {
        const item = document.createElement("li");
        try {
          const past = await this.api.getContact({ id: contact.id, revision: BigInt(revision) });
          const when = past.revisionCreateTime
            ? new Date(Number(past.revisionCreateTime.seconds) * 1000).toLocaleString()
            : "";
          const wore = past.profilePicture ? "with a picture" : "no picture";
          item.textContent = `Revision ${revision} · ${when} · ${displayName(past)} · ${wore}`;
        } catch (error) {
          item.textContent = `Revision ${revision}: ${refusal(error).message}`;
        }
        return item;
      }),
    );
    if (this.current?.id === contact.id) list.replaceChildren(...items);
  }

  private async replacePicture(input: HTMLInputElement): Promise<void> {
    const file = input.files?.[0];
    const error = this.root.querySelector<HTMLElement>("#panel-error")!;
    if (!file || !this.current) return;
    const check = await checkPicture(file);
    input.value = "";
    if (check.error || !check.bytes) {
      error.textContent = check.error ?? "";
      return;
    }
    try {
      const updated = await this.api.replaceProfilePicture({
        id: this.current.id,
        profilePicture: check.bytes,
        requestId: crypto.randomUUID(),
      });
      await this.show(updated);
      this.changed(updated, []);
    } catch (failure) {
      showRefusal(this.root, refusal(failure), error, error);
    }
  }

  private async findDuplicates(): Promise<void> {
    const list = this.root.querySelector<HTMLElement>("#duplicates")!;
    if (!this.current) return;
    const primary = this.current;
    list.replaceChildren();
    try {
      const { matches } = await this.api.findDuplicateContacts({ contactId: primary.id });
      if (matches.length === 0) list.textContent = "No duplicates found.";
      for (const match of matches) {
        const duplicate = match.contact!;
        const item = document.createElement("li");
        const merge = document.createElement("button");
        merge.type = "button";
        merge.textContent = `Merge ${displayName(duplicate)} into this contact`;
        merge.addEventListener("click", async () => {
          try {
            // The duplicate's picture, when it has one, is the newer face.
            const take = duplicate.profilePicture ? ["profile_picture"] : [];
            const merged = await this.api.mergeContacts({
              primaryId: primary.id,
              duplicateId: duplicate.id,
              takeFromDuplicate: take,
              requestId: crypto.randomUUID(),
            });
            await this.show(merged);
            this.changed(merged, [duplicate.id]);
          } catch (failure) {
            const { reason, message } = refusal(failure);
            list.textContent = `${reason}: ${message}`;
          }
        });
        item.append(avatar(duplicate, 32, 128), merge);
        list.append(item);
      }
    } catch (failure) {
      const { reason, message } = refusal(failure);
      list.textContent = `${reason}: ${message}`;
    }
  }
}
