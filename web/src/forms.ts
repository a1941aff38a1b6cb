// Creating a contact with a picture: the browser checks the file, the
// server has the last word, and its refusal is shown beside the field it is
// about (the picture's reason and message, or each field violation).
import { refusal, type Contacts } from "./api";
import { checkPicture } from "./pictures";

export function createForm(api: Contacts, form: HTMLFormElement, created: () => void): void {
  const pictureError = form.querySelector<HTMLElement>("#picture-error")!;
  const formError = form.querySelector<HTMLElement>("#form-error")!;
  const pictureInput = form.querySelector<HTMLInputElement>("#picture")!;
  pictureInput.addEventListener("change", async () => {
    const file = pictureInput.files?.[0];
    const check = file ? await checkPicture(file) : {};
    pictureError.textContent = check.error ?? check.warning ?? "";
  });

  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    for (const shown of form.querySelectorAll<HTMLElement>(".error")) shown.textContent = "";
    const value = (name: string) => (form.elements.namedItem(name) as HTMLInputElement).value.trim();
    let profilePicture = new Uint8Array();
    const file = pictureInput.files?.[0];
    if (file) {
      const check = await checkPicture(file);
      if (check.error || !check.bytes) {
        pictureError.textContent = check.error ?? "";
        return;
      }
      profilePicture = check.bytes;
    }
    const contact = {
      firstName: value("first_name"),
      lastName: value("last_name"),
      email: value("email"),
      phone: value("phone"),
      companyName: value("company_name"),
    };
    try {
      await api.createContact({ contact, profilePicture, requestId: crypto.randomUUID() });
      form.reset();
      created();
    } catch (error) {
      showRefusal(form, refusal(error), pictureError, formError);
    }
  });
}

export function showRefusal(
  form: HTMLElement,
  found: ReturnType<typeof refusal>,
  pictureError: HTMLElement,
  formError: HTMLElement,
): void {
  const text = `${found.reason || found.code}: ${found.message}`;
  if (found.reason.startsWith("IMAGE_") || found.fields.some((f) => f.field === "profile_picture")) {
    pictureError.textContent = text;
    return;
  }
  let placed = false;
  for (const violation of found.fields) {
    const field = CSS.escape(violation.field.replace("contact.", ""));
    const beside = form.querySelector<HTMLElement>(`[data-error-for="${field}"]`);
    if (beside) {
      beside.textContent = violation.description;
      placed = true;
    }
  }
  if (!placed) formError.textContent = text;
}
