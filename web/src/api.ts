// The one client of the API: gRPC-Web to the page's own origin, with the
// tenant and key the user gave, and errors read into what a form shows.
import { Code, ConnectError, createClient, type Client, type Interceptor } from "@connectrpc/connect";
import { createGrpcWebTransport } from "@connectrpc/connect-web";
import { ContactsService, type Contact } from "./gen/accommador/contacts/v1/contacts_service_pb";
import { BadRequestSchema, ErrorInfoSchema } from "./gen/google/rpc/error_details_pb";

export type Contacts = Client<typeof ContactsService>;
export type { Contact };

export interface Credentials {
  tenant: string;
  key: string;
}

export function contactsClient(credentials: Credentials): Contacts {
  const authenticate: Interceptor = (next) => (request) => {
    request.header.set("x-tenant-id", credentials.tenant);
    if (credentials.key) request.header.set("authorization", `Bearer ${credentials.key}`);
    return next(request);
  };
  const transport = createGrpcWebTransport({ baseUrl: location.origin, useBinaryFormat: true, interceptors: [authenticate] });
  return createClient(ContactsService, transport);
}

/** What the server said, as the README's error model has it. */
export interface Refusal {
  code: string;
  reason: string;
  message: string;
  fields: { field: string; description: string }[];
}

export function refusal(error: unknown): Refusal {
  const failure = ConnectError.from(error);
  const info = failure.findDetails(ErrorInfoSchema)[0];
  const badRequest = failure.findDetails(BadRequestSchema)[0];
  return {
    code: Code[failure.code] ?? String(failure.code),
    reason: info?.reason ?? "",
    message: failure.rawMessage,
    fields: badRequest?.fieldViolations.map((v) => ({ field: v.field, description: v.description })) ?? [],
  };
}

export function displayName(contact: Contact): string {
  const name = [contact.firstName, contact.lastName].filter(Boolean).join(" ");
  return name || contact.companyName || contact.email || contact.phone || "(no name)";
}
