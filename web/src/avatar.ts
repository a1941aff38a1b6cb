// A contact's face: the placeholder (initials on the contact's colour, or
// the picture's ThumbHash) at once, and the picture fading in over it once
// its stable URL has loaded. The placeholder stays when there is no picture.
import { thumbHashToDataURL } from "thumbhash";
import { displayName, type Contact } from "./api";

export function avatar(contact: Contact, pixels: number, rendition: 128 | 512): HTMLElement {
  const name = displayName(contact);
  const placeholder = contact.avatarPlaceholder;
  const face = document.createElement("span");
  face.className = "avatar";
  face.style.width = face.style.height = `${pixels}px`;
  face.style.fontSize = `${Math.round(pixels * 0.4)}px`;
  face.style.background = placeholder?.backgroundColor ?? "#37474f";
  face.style.color = placeholder?.textColor ?? "#ffffff";
  const initials = document.createElement("span");
  initials.className = "initials";
  initials.textContent = placeholder?.initials ?? "#";
  face.append(initials);

  const picture = contact.profilePicture;
  const chosen = picture?.renditions.find((r) => r.size === rendition) ?? picture?.renditions[0];
  const source = chosen?.stableUrl || chosen?.url;
  if (!picture || !source) {
    face.setAttribute("role", "img");
    face.setAttribute("aria-label", `Initials of ${name}`);
    return face;
  }
  if (picture.dominantColor) face.style.background = picture.dominantColor;
  if (picture.thumbhash.length > 0) {
    try {
      face.style.backgroundImage = `url(${thumbHashToDataURL(picture.thumbhash)})`;
      face.style.backgroundSize = "cover";
      initials.hidden = true;
    } catch {
      // A preview that does not decode leaves the initials.
    }
  }
  const image = document.createElement("img");
  image.alt = `Photo of ${name}`;
  image.width = image.height = pixels;
  image.decoding = "async";
  image.src = source;
  image.addEventListener("load", () => face.classList.add("loaded"));
  // A picture that cannot load (gone since the list was read, or the
  // network) leaves the placeholder, labelled as one.
  image.addEventListener("error", () => {
    image.remove();
    face.style.backgroundImage = "";
    face.style.background = placeholder?.backgroundColor ?? "#37474f";
    initials.hidden = false;
    face.setAttribute("role", "img");
    face.setAttribute("aria-label", `Initials of ${name}`);
  });
  face.append(image);
  return face;
}
