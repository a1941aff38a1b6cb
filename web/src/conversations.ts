// A conversations-style column: one card per contact of a set of ids, read
// in one BatchGetContacts call, as the inbox shows who each thread is with.
import { displayName, refusal, type Contact, type Contacts } from "./api";
import { avatar } from "./avatar";

export async function showConversations(
  api: Contacts,
  list: HTMLElement,
  ids: string[],
  open: (contact: Contact) => void,
): Promise<void> {
  list.replaceChildren();
  if (ids.length === 0) return;
  try {
    const { contacts } = await api.batchGetContacts({ ids: ids.slice(0, 10) });
    for (const contact of contacts) {
      const card = document.createElement("li");
      const button = document.createElement("button");
      button.type = "button";
      button.className = "card";
      const text = document.createElement("span");
      text.className = "text";
      const name = document.createElement("strong");
      name.textContent = displayName(contact);
      const preview = document.createElement("small");
      preview.textContent = contact.email || contact.phone || contact.companyName;
      text.append(name, preview);
      button.append(avatar(contact, 32, 128), text);
      button.addEventListener("click", () => open(contact));
      card.append(button);
      list.append(card);
    }
  } catch (error) {
    const { reason, message } = refusal(error);
    list.textContent = `Cannot read the conversations' contacts: ${reason} ${message}`;
  }
}
