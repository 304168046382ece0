/**
 * 1024 common English words, each of which is a single o200k_base token both on its own and with a
 * leading space (checked by test/prompt.test.ts). Lower-case letters only, so the tokenizer's
 * pre-tokenisation splits "a b c" into " b", " c" pieces and no merge can cross a word boundary:
 * a string of n of these words is exactly n tokens. A power of two, so a word is 10 random bits.
 */
export const WORDS: readonly string[] = `
ability able about above absence academy accept account accuracy achievement acid act action activity actor
actually address adult advanced after again against age agency agent ago agree agreement aid aim air airport
alarm album all allow almost along already also alternative although always am among amount an analysis and
anger angle animal announcement another answer ant any anything appearance apple application appointment
approval are area areas argument arm army around arrival art article artist as ask asked aspect assignment
assistant at attack attempt attention author authority available average away baby back background bag
balance ball banana band bank base basic basis basket bath battle be bear because bed bee been beer before
begin behavior behind being belief below belt bend berry best bet better between big bike bill bird birth
birthday bit black blade blood blue board boat body book borrow boss both bottom boundary box boy brain
branch brand bread break brick bridge bright bring brown brush budget build burn bus business but button buy
by cake call called came camera campaign can candidate cannot capital car carbon card care career carry case
cash castle cat catch category cause cell center central certain chain chair challenge chance change channel
chapter character charge chart check chemical chief child children chip choice choose church circle city
claim class clean clear client clock close cloth cloud club coach coat code coffee coin cold collection
college color column come comfort comment commission committee common communication community company
compare comparison competition complex computer concept concert condition conference confidence connection
construction contact content contest context continent contract control conversation cook cookie cool copy
corner cost could count counter country county course court cover cow craft create credit crew crime cry
culture cup currency customer cut cycle damage dance danger dark data database date daughter day days deal
death decision deck deep degree delivery department deposit depth describe description design desk detail
development device diamond did diet difference different difficulty dimension direction director dirty
discount discussion dish disk display distance distribution do doctor does dog done door double down draw
dream dress drink drive driver drop duck during each early earn earth east easy eat economic edge editor
education effect either empty end enemy energy engine enter escape even ever every example exit expected
experience eyes face fact fade failure fall family far farm father fear feed feel feet felt festival few
field fight figure fill film final find fine finish fire first fish five fix flash flat floor flower fly
fold follow following food for force forest forget fork form found four fox free freeze fresh friend frog
from front full future game garden gave general get gift girl give given glass global go goal god going gold
good got government grass gray great green ground group grow guess guest had half hand hands happy hard has
hat hate have having he head hear heard heart heat heavy height held help her here hide high hill him his
history hit hold holiday home hope horse hospital hot hotel hour house how however hug human idea if
important in individual industry information initial inside interest into invite iron is it its jar job john
join judge juice jump just keep key kick kind king kiss knife know known lady lake lamp land language large
last late later laugh law lead leaf learn least leave left lend length less let letter level lie life lift
light like line lines lion list listen little live living local lock long look lord lose love low machine
made main major make making man many market match math matter may me means measure meeting melon members men
mention metal method middle might milk million mind minor minute minutes mirror miss mix model modern moment
money month moon more most mother mouse move movie much music must my name nation national natural nature
near necessary need neighbor never new next nice night no noise north nothing now number of off offer office
often old on once one only open or orange order other others our out outside over owl own pack page paint
paper part partner party past patient pay peace pen people per perhaps period person personal phone picture
piece pig pilot pink place plan plane planet plant plastic plate play player point policy poor position
possible pour power practice prefer present press pressure price primary private probably problem program
project promise protect prove provide public pull purple push put queen question quick quiet quite rabbit
radio rain raise rate rather reach read reading ready real really reason receive recent record red remember
report research rest result return review rich ride right ring rise river road rocket roll roof room rough
round run sad safe said salt same sat save say school science score screen sea search season seat second see
seek seen sell send sense sentence service set shake shall shape sharp she shine ship shirt shoe shop short
should show side silver similar simple since sing single sit six size sky sleep slow small smooth snake snow
so social sock soft solution some something sometimes son song soon sound south space special specific speed
spin sport spring stage stand star start state states station stay steel still stock stone stood stop store
storm story street strong student students study subject success such suggest summer sun support sure sweet
system table take taken talk task tax tea teach teacher team tell test than thank the their them then there
these they thin thing things think those though thought three through throw thus ticket tie time times to
today too top total touch tower town trade train travel tree truck true turn turned two type under until up
upon us use used usually value very view visit voice wait wake walk wall want war warm was wash watch water
way wc we wear weather week weeks weight welcome well went were west what when where whether which while
white who whole whose why wide wife wild will win wind window wine winter wish with within without wolf
woman wonder wood word words work world would wrap write writer year years yellow yet you young your
`.trim().split(/\s+/)
