import 'reflect-metadata';
import { Field, InputType } from 'type-graphql';

@InputType({ description: 'An image: exactly one of base64 (plain, or a data URL) and url (http/https).' })
export class ImageInput {
  @Field({ nullable: true, description: 'Base64 of the file\'s bytes, or a data URL (data:image/png;base64,...).' })
  base64?: string;

  @Field({ nullable: true, description: 'An http(s) URL the service fetches (private addresses are refused unless configured).' })
  url?: string;
}
