import 'reflect-metadata';
import { Field, InputType } from 'type-graphql';
import type { UploadedFile } from '../input/upload';
import { UploadScalar } from './upload.scalar';

@InputType({ description: 'An image: exactly one of file (a multipart upload), base64 (plain, or a data URL) and url (http/https).' })
export class ImageInput {
  @Field({ nullable: true, description: 'Base64 of the file\'s bytes, or a data URL (data:image/png;base64,...).' })
  base64?: string;

  @Field(() => UploadScalar, { nullable: true, description: 'The file\'s bytes as a part of a multipart request (the fastest way to send an image: no base64, no JSON parsing).' })
  file?: UploadedFile;

  @Field({ nullable: true, description: 'An http(s) URL the service fetches (private addresses are refused unless configured).' })
  url?: string;

  @Field({ nullable: true, defaultValue: false, description: "Apply the image's EXIF orientation first, as photo apps show it (true), or take the pixels as stored, as PIL's Image.open does (false, the default: the reference's numbers). Images stored in a collection (addImages) are always turned upright." })
  upright?: boolean;
}
